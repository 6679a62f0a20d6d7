package keys

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/featurevault/featurevault/kv"
)

// Status is the state of the key hierarchy, for operators: versions,
// counts and dates. It holds no key material and no subject names.
type Status struct {
	// KMS is the URI of the root key.
	KMS string
	// RootVersion names the root version that wraps the KEK (see
	// RootRotation.Version); RootVersions, for local:// only, counts the
	// versions in the root file: more than one means older versions that
	// still unwrap old copies of the KEK have not been destroyed.
	RootVersion  string
	RootVersions int
	RootRotated  time.Time // last root rotation; zero if never
	// Versions lists the KEK versions in the keyset, primary first, then
	// newest first.
	Versions []VersionStatus
	// Retired lists the versions destroyed by Retire.
	Retired []RetiredVersion
	// Subjects counts stored subject keys.
	Subjects int
	// Unattributed counts stored keys wrapped by no version in the keyset
	// (damaged, or wrapped by a retired version): they cannot be unwrapped.
	Unattributed int
	// Rewrap is the unfinished rewrap, if any (interrupted or running).
	Rewrap *RewrapCursor
	// LastRewrap is when the last complete rewrap finished.
	LastRewrap time.Time
}

// VersionStatus is one KEK version and what it wraps.
type VersionStatus struct {
	KEKVersion
	Subjects int // subject keys wrapped by this version
	Service  int // service keysets (blind-index key, named keysets) wrapped by it
}

// RetiredVersion is a destroyed KEK version.
type RetiredVersion struct {
	ID      uint32
	Retired time.Time
}

// census counts the stored keys wrapped by each KEK version.
type census struct {
	subjects, service map[uint32]int
	total             int
	unattributed      int // unparsable prefix
}

// takeCensus reads every wrapped key in the keystore (values only, no
// decryption) and counts them by wrapping version.
func (k *Keyring) takeCensus(ctx context.Context) (*census, error) {
	c := &census{subjects: map[uint32]int{}, service: map[uint32]int{}}
	count := func(m map[uint32]int) func(kv.Entry) error {
		return func(e kv.Entry) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if id, ok := wrappedBy(e.Value); ok {
				m[id]++
			} else {
				c.unattributed++
			}
			return nil
		}
	}
	if err := k.store.Scan(prefixSubject, func(e kv.Entry) error {
		c.total++
		return count(c.subjects)(e)
	}); err != nil {
		return nil, fmt.Errorf("keys: read keystore: %w", err)
	}
	if err := k.store.Scan(prefixNamed, count(c.service)); err != nil {
		return nil, fmt.Errorf("keys: read keystore: %w", err)
	}
	v, err := k.store.Get([][]byte{keyPRF})
	if err != nil {
		return nil, fmt.Errorf("keys: read keystore: %w", err)
	}
	if v[0] != nil {
		_ = count(c.service)(kv.Entry{Key: keyPRF, Value: v[0]})
	}
	return c, nil
}

// Status reports the key hierarchy's state. It reads every wrapped key's
// header (no decryption, no KMS call): O(subjects), about a second per
// million.
func (k *Keyring) Status(ctx context.Context) (Status, error) {
	if k.closed.Load() {
		return Status{}, ErrClosed
	}
	c, err := k.takeCensus(ctx)
	if err != nil {
		return Status{}, err
	}
	hist, err := k.loadMeta()
	if err != nil {
		return Status{}, err
	}
	cur, err := k.loadCursor()
	if err != nil {
		return Status{}, err
	}
	st := k.kekNow.load()
	out := Status{
		KMS: k.root.uri, RootRotated: hist.RootRotated, LastRewrap: hist.LastRewrap,
		Subjects: c.total, Rewrap: cur,
	}
	if v, err := k.store.Get([][]byte{keyKEK}); err == nil && v[0] != nil {
		out.RootVersion = rootVersion(v[0])
	}
	if path, err := localkms.PathOf(k.root.uri); err == nil {
		if info, err := localkms.Info(path); err == nil {
			out.RootVersions = len(info.Versions)
		}
	}
	inKeyset := map[uint32]bool{}
	for _, ki := range st.handle.KeysetInfo().GetKeyInfo() {
		id := ki.GetKeyId()
		inKeyset[id] = true
		vs := VersionStatus{KEKVersion: KEKVersion{ID: id, Primary: id == st.primary}, Subjects: c.subjects[id], Service: c.service[id]}
		for _, h := range hist.Versions {
			if h.ID == id {
				vs.Created = h.Created
			}
		}
		out.Versions = append(out.Versions, vs)
	}
	slices.SortStableFunc(out.Versions, func(a, b VersionStatus) int {
		if a.Primary != b.Primary {
			if a.Primary {
				return -1
			}
			return 1
		}
		return b.Created.Compare(a.Created)
	})
	for _, h := range hist.Versions {
		if !h.Retired.IsZero() {
			out.Retired = append(out.Retired, RetiredVersion{ID: h.ID, Retired: h.Retired})
		}
	}
	slices.SortFunc(out.Retired, func(a, b RetiredVersion) int { return cmp.Compare(b.Retired.UnixNano(), a.Retired.UnixNano()) })
	out.Unattributed = c.unattributed
	for id, n := range c.subjects {
		if !inKeyset[id] {
			out.Unattributed += n
		}
	}
	for id, n := range c.service {
		if !inKeyset[id] {
			out.Unattributed += n
		}
	}
	return out, nil
}

// PrimaryAge returns how long ago the primary KEK version was made, and
// false when that is unknown (a keystore made before versions were dated).
// Scheduled rotation uses it; it reads one small record.
func (k *Keyring) PrimaryAge() (time.Duration, bool, error) {
	hist, err := k.loadMeta()
	if err != nil {
		return 0, false, err
	}
	p := k.kekNow.load().primary
	for _, h := range hist.Versions {
		if h.ID == p && !h.Created.IsZero() {
			return k.now().Sub(h.Created), true, nil
		}
	}
	return 0, false, nil
}
