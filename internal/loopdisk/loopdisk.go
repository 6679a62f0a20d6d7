// Package loopdisk simulates power failures for tests: an ext4 file system
// in an image file, mounted through a loop device (direct I/O, journal
// commit interval 600 s). Cutting the power copies the image: the copy
// holds exactly the blocks the file system had sent to its device — what
// fsync put there, plus whatever the kernel wrote back on its own — and
// none of the dirty pages still in the page cache. The copy is mounted
// (ext4 replays its journal, as after a power cut) in place of the
// original.
//
// Limits: the kernel may write back unsynced pages before the copy (that
// only makes a test weaker, never wrong; within a few seconds, below the
// kernel's 30 s dirty-page expiry, it rarely does), and a real disk's
// volatile write cache, which can reorder writes it has not flushed, is
// not modelled: fsync issues a cache flush, and honouring it is the
// disk's contract.
package loopdisk

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Disk is an ext4 file system in an image file, mounted through a loop
// device, whose power a test can cut.
type Disk struct {
	img, dev, mnt string
	tmp           string // where images are kept
}

// New makes and mounts a fresh 512 MiB disk, unmounted and removed when
// the test ends. It skips the test (fails it when the environment variable
// CI is set) when this machine cannot: it needs root, /dev/loop-control,
// losetup, mkfs.ext4, mount and cp.
func New(t testing.TB) *Disk {
	t.Helper()
	unable := func(why string) {
		msg := "POWER-LOSS TEST NOT RUN: " + why + " (it needs root, /dev/loop-control, losetup, mkfs.ext4 and mount)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if os.Geteuid() != 0 {
		unable("not running as root")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		unable("no loop devices: " + err.Error())
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "mount", "umount", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			unable(tool + " not found")
		}
	}
	d := &Disk{tmp: t.TempDir(), mnt: t.TempDir()}
	d.img = filepath.Join(d.tmp, "disk-0.img")
	if err := os.WriteFile(d.img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(d.img, 512<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := command("mkfs.ext4", "-q", "-F", d.img).CombinedOutput(); err != nil {
		unable(fmt.Sprintf("mkfs.ext4: %v: %s", err, out))
	}
	if err := d.attach(); err != nil {
		unable(err.Error())
	}
	t.Cleanup(func() {
		if err := d.detach(); err != nil {
			t.Errorf("unmount the loop disk: %v", err)
		}
	})
	return d
}

// attach binds d.img to a loop device and mounts it at d.mnt.
func (d *Disk) attach() error {
	out, err := command("losetup", "-f", "--show", "--direct-io=on", d.img).Output()
	if err != nil {
		if out, err = command("losetup", "-f", "--show", d.img).Output(); err != nil {
			return fmt.Errorf("losetup %s: %w", d.img, err)
		}
	}
	d.dev = strings.TrimSpace(string(out))
	if out, err := command("mount", "-t", "ext4", "-o", "commit=600", d.dev, d.mnt).CombinedOutput(); err != nil {
		_ = command("losetup", "-d", d.dev).Run()
		return fmt.Errorf("mount %s: %v: %s", d.dev, err, out)
	}
	return nil
}

// detach unmounts d and frees its loop device.
func (d *Disk) detach() error {
	if d.dev == "" {
		return nil
	}
	var errs []string
	if out, err := command("umount", d.mnt).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Sprintf("umount %s: %v: %s", d.mnt, err, out))
	}
	if out, err := command("losetup", "-d", d.dev).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Sprintf("losetup -d %s: %v: %s", d.dev, err, out))
	}
	d.dev = ""
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// Dir returns where the disk is mounted.
func (d *Disk) Dir() string { return d.mnt }

// CutPower replaces the mounted file system by a copy of the blocks its
// device holds now: what only the page cache held is gone, as after a
// power failure. Nothing may be writing to the disk meanwhile (kill the
// writer first): the copy is taken block by block, and the file system
// must be idle for it to be one instant's state. Files held open on the
// disk keep the old file system busy, and CutPower fails.
func (d *Disk) CutPower(t testing.TB) {
	t.Helper()
	next := filepath.Join(d.tmp, fmt.Sprintf("disk-%d.img", time.Now().UnixNano()))
	if out, err := command("cp", "--sparse=always", d.img, next).CombinedOutput(); err != nil {
		t.Fatalf("copy the disk image: %v: %s", err, out)
	}
	// Unmounting writes the dirty pages back — into the old image, which
	// is thrown away.
	if err := d.detach(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d.img); err != nil {
		t.Fatal(err)
	}
	d.img = next
	if err := d.attach(); err != nil {
		t.Fatalf("mount the image after the power cut: %v", err)
	}
}

// command runs one of the fixed tools New checks for on paths this
// package made.
func command(name string, args ...string) *exec.Cmd {
	return exec.Command(name, args...) // #nosec G204 -- losetup, mkfs.ext4, mount, umount or cp, on the test's own image and mount paths
}
