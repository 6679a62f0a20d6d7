package kv

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// removeEmptyLogs deletes the memtable logs (*.mem) and value logs (*.vlog)
// in dir that are zero bytes long, before Badger opens the directory.
//
// Badger creates a log file, then sizes it (ftruncate) and writes its
// header; the group commit's syncs make the directory entry durable but
// not, until the file itself is first synced, the new size. A power cut in
// between leaves an empty file, and Badger refuses to open a directory
// holding one ("while opening fid: N err: Create a new file"): the store
// would not start after the power came back. An empty log holds no record
// — every write acknowledged through it was synced, size included — so it
// is removed, and Badger creates its next log as after a clean stop.
// Found by TestGroupCommitSurvivesPowerLoss.
func removeEmptyLogs(dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a new store
	}
	if err != nil {
		return fmt.Errorf("kv: list %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("kv: stat %s: %w", filepath.Join(dir, name), err)
		}
		if info.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("kv: remove the empty log %s: %w", filepath.Join(dir, name), err)
		}
		if log != nil {
			log.Warn("kv: removed an empty log file that an interrupted start of a new log left behind (a crash or power cut); it held no data", "dir", dir, "file", name)
		}
	}
	return nil
}
