package keys

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tink-crypto/tink-go/v2/keyset"
)

// meta is the KEK's history, kept beside it in the keystore (m/kek-meta) as
// plain JSON: key IDs and times, no key material. It dates versions for
// Status and for scheduled rotation, and remembers retired versions so that
// retiring one twice is recognised. A keystore made before meta existed has
// none: its versions' ages read as unknown until the next rotation.
type meta struct {
	Versions    []versionMeta `json:"versions"`
	RootRotated time.Time     `json:"root_rotated,omitzero"`
	LastRewrap  time.Time     `json:"last_rewrap,omitzero"`
}

type versionMeta struct {
	ID      uint32    `json:"id"`
	Created time.Time `json:"created,omitzero"`
	Retired time.Time `json:"retired,omitzero"`
}

// newMeta dates every version of a new KEK keyset now.
func newMeta(kh *keyset.Handle, now time.Time) *meta {
	m := &meta{}
	for _, ki := range kh.KeysetInfo().GetKeyInfo() {
		m.Versions = append(m.Versions, versionMeta{ID: ki.GetKeyId(), Created: now.UTC()})
	}
	return m
}

func (m *meta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("keys: encode KEK history: %w", err)
	}
	return b, nil
}

// loadMeta reads the KEK history (empty when absent).
func (k *Keyring) loadMeta() (*meta, error) {
	v, err := k.store.Get([][]byte{keyMeta})
	if err != nil {
		return nil, fmt.Errorf("keys: read keystore: %w", err)
	}
	m := &meta{}
	if v[0] == nil {
		return m, nil
	}
	if err := json.Unmarshal(v[0], m); err != nil {
		return nil, fmt.Errorf("%w: the KEK history (m/kek-meta) is not valid JSON: %v", ErrKeystoreDamaged, err)
	}
	return m, nil
}

// version returns the entry of id, adding an undated one if missing.
func (m *meta) version(id uint32) *versionMeta {
	for i := range m.Versions {
		if m.Versions[i].ID == id {
			return &m.Versions[i]
		}
	}
	m.Versions = append(m.Versions, versionMeta{ID: id})
	return &m.Versions[len(m.Versions)-1]
}

// retired reports whether id was retired, and when.
func (m *meta) retired(id uint32) (time.Time, bool) {
	i := slices.IndexFunc(m.Versions, func(v versionMeta) bool { return v.ID == id })
	if i < 0 || m.Versions[i].Retired.IsZero() {
		return time.Time{}, false
	}
	return m.Versions[i].Retired, true
}
