package keys

import "encoding/binary"

// Keystore layout. Every value is a Tink EncryptedKeyset (binary proto).
//
//	m/kek                  KEK keyset, wrapped by the KMS root AEAD, AD adKEK
//	m/prf                  blind-index PRF keyset, wrapped by the KEK, AD adPRF
//	s/ lp(entity) bi       subject keyset, wrapped by the KEK, AD adSubject lp(entity) bi
//	k/ name                service keyset (named.go), wrapped by the KEK
//
// and two plain JSON records that hold no key material (meta.go, rewrap.go):
//
//	m/kek-meta             when each KEK version was made and retired, and root rotations
//	m/rewrap               the cursor of an unfinished rewrap
//
// lp(x) is x prefixed by its length as a uvarint, so that no two (entity, bi)
// pairs share an encoding.
var (
	keyKEK        = []byte("m/kek")
	keyPRF        = []byte("m/prf")
	keyMeta       = []byte("m/kek-meta")
	keyRewrap     = []byte("m/rewrap")
	prefixSubject = []byte("s/")

	adKEK     = []byte("featurevault/kek/v1")
	adPRF     = []byte("featurevault/blind-index/v1")
	adSubject = []byte("featurevault/subject/v1")
)

// appendLP appends lp(s) to b.
func appendLP(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// subjectID is lp(entity) || bi: the subject's identity in keystore keys,
// associated data and the cache.
func subjectID(entity string, bi BlindIndex) []byte {
	return appendSubjectID(make([]byte, 0, subjectIDLen(entity)), entity, bi)
}

func appendSubjectID(b []byte, entity string, bi BlindIndex) []byte {
	return append(appendLP(b, entity), bi[:]...)
}

func subjectIDLen(entity string) int {
	return binary.MaxVarintLen64 + len(entity) + len(BlindIndex{})
}

// subjectKey is the keystore key of a subject's wrapped keyset.
func subjectKey(id []byte) []byte {
	return append(append(make([]byte, 0, len(prefixSubject)+len(id)), prefixSubject...), id...)
}

// subjectAD is the associated data that binds a wrapped keyset to its subject.
func subjectAD(id []byte) []byte {
	return append(append(make([]byte, 0, len(adSubject)+len(id)), adSubject...), id...)
}
