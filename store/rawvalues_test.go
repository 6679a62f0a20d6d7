package store

import (
	"encoding/binary"

	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Test-only access to the ciphertexts of a view, for the export benchmark's
// baseline: the same Tink decryptions the store makes, without the store.

// RawValue is one stored ciphertext, its subject's AEAD and its associated
// data, ready for aead.Decrypt.
type RawValue struct {
	AEAD       tink.AEAD
	Ciphertext []byte
	AAD        []byte
}

// RawValues returns every non-NULL ciphertext of view, in key order.
func RawValues(s *Store, view string) ([]RawValue, error) {
	v, ent, err := s.lookup(view)
	if err != nil {
		return nil, err
	}
	prefix := binary.BigEndian.AppendUint32([]byte{rowTag}, v.ID)
	var out []RawValue
	var row encodedRow
	err = s.data.Scan(prefix, func(e kv.Entry) error {
		bi, ev, _ := parseRowKey(e.Key)
		a, _, err := s.keyring.SubjectAEAD(ent.Name, bi, false)
		if err != nil {
			return err
		}
		if err := decodeRow(e.Value, &row); err != nil {
			return err
		}
		aad := newRowAAD(v.Name, bi, ev, row.schemaVersion)
		for fi, slot := range row.slots {
			if slot != nil {
				out = append(out, RawValue{AEAD: a, Ciphertext: slot, AAD: append([]byte(nil), aad.field(v.Fields[fi].Name)...)})
			}
		}
		return nil
	})
	return out, err
}
