package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/featurevault/featurevault/keys/localkms"
	"github.com/featurevault/featurevault/kv"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/prf"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// loadKeys unwraps the stored KEK with the root AEAD (one KMS decrypt), then
// the blind-index keyset with the KEK.
func (k *Keyring) loadKeys(o Options, wrappedKEK, wrappedPRF []byte) error {
	client, err := o.kmsClient()
	if err != nil {
		return err
	}
	root, err := rootAEAD(client, o.kmsURI, &k.kmsCalls)
	if err != nil {
		return err
	}
	k.root = rootKey{aead: root, uri: o.kmsURI, client: client}
	kh, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(wrappedKEK)), root, adKEK)
	if err != nil {
		if cause := root.unreachable(); cause != nil {
			return fmt.Errorf("%w: the KMS at %s could not be reached to unwrap the KEK (%v); check its address and credentials, then start again (nothing was changed)", ErrRootUnavailable, o.kmsURI, cause)
		}
		return fmt.Errorf("%w at %s (%v); open with the root key this keystore was created under", ErrKEKUnwrap, o.kmsURI, err)
	}
	if err := k.setKEK(kh); err != nil {
		return fmt.Errorf("%w: the KEK keyset is not an AEAD keyset: %v", ErrKeystoreDamaged, err)
	}
	if wrappedPRF == nil {
		return fmt.Errorf("%w: it holds a KEK but no blind-index key; restore the keystore directory from backup", ErrKeystoreDamaged)
	}
	ph, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(wrappedPRF)), k.kek, adPRF)
	if err != nil {
		return fmt.Errorf("%w: the blind-index key does not unwrap under the KEK (%v); restore the keystore directory from backup", ErrKeystoreDamaged, err)
	}
	if k.prf, err = prf.NewPRFSet(ph); err != nil {
		return fmt.Errorf("%w: the blind-index keyset is not a PRF keyset: %v", ErrKeystoreDamaged, err)
	}
	return nil
}

// createKeys makes a fresh KEK and blind-index key in an empty keystore (and,
// for local://, the root key file when it does not exist), then stores both
// in one atomic write. On any failure nothing is left behind.
func (k *Keyring) createKeys(o Options, store kv.Store, prfPresent bool) (err error) {
	if subjects, err := kv.HasPrefix(store, prefixSubject); err != nil {
		return fmt.Errorf("keys: read keystore: %w", err)
	} else if subjects || prfPresent {
		return fmt.Errorf("%w: it holds subject or blind-index keys but no KEK; restore the keystore directory from backup", ErrKeystoreDamaged)
	}
	if !o.create {
		return ErrNoKeys
	}
	client, err := o.kmsClient()
	if err != nil {
		return err
	}
	if path, perr := localkms.PathOf(o.kmsURI); perr == nil {
		var created bool
		if created, err = k.createLocalRoot(path); err != nil {
			return err
		}
		if created {
			defer func() { // err is the named result: any later failure removes the new root
				if err != nil {
					_ = os.Remove(path)
				}
			}()
		}
	}
	root, err := rootAEAD(client, o.kmsURI, &k.kmsCalls)
	if err != nil {
		return err
	}
	k.root = rootKey{aead: root, uri: o.kmsURI, client: client}
	// The KEK keeps Tink's output prefix so that, once it rotates, each
	// wrapped key names the KEK version that can unwrap it.
	kh, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return fmt.Errorf("keys: generate KEK: %w", err)
	}
	wrappedKEK, err := wrap(kh, root, adKEK)
	if err != nil {
		if cause := root.unreachable(); cause != nil {
			return fmt.Errorf("%w: the KMS at %s could not be reached to wrap a new KEK (%v); check its address and credentials, then start again (nothing was written)", ErrRootUnavailable, o.kmsURI, cause)
		}
		return fmt.Errorf("keys: wrap KEK with the root key at %s: %w", o.kmsURI, err)
	}
	if err := k.setKEK(kh); err != nil {
		return fmt.Errorf("keys: KEK primitive: %w", err)
	}
	ph, err := keyset.NewHandle(prf.HMACSHA256PRFKeyTemplate())
	if err != nil {
		return fmt.Errorf("keys: generate blind-index key: %w", err)
	}
	wrappedPRF, err := wrap(ph, k.kek, adPRF)
	if err != nil {
		return fmt.Errorf("keys: wrap blind-index key: %w", err)
	}
	if k.prf, err = prf.NewPRFSet(ph); err != nil {
		return fmt.Errorf("keys: blind-index primitive: %w", err)
	}
	meta, err := newMeta(kh, k.now()).encode()
	if err != nil {
		return err
	}
	if err := store.Apply([]kv.Op{{Key: keyKEK, Value: wrappedKEK}, {Key: keyPRF, Value: wrappedPRF}, {Key: keyMeta, Value: meta}}); err != nil {
		return fmt.Errorf("keys: store new KEK: %w", err)
	}
	k.log.Info("keys: created KEK and blind-index key in an empty keystore", "kms", o.kmsURI)
	return nil
}

// createLocalRoot creates the local root key file if it does not exist and
// reports whether it did.
func (k *Keyring) createLocalRoot(path string) (bool, error) {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return false, nil // exists (or unreadable: GetAEAD reports it)
	}
	if err := localkms.Create(path); err != nil {
		return false, fmt.Errorf("keys: create local root key: %w", err)
	}
	k.log.Warn("keys: created a local root key file (cleartext, mode 0600); production should use a real KMS: hcvault://, aws-kms:// or gcp-kms://", "path", path)
	return true, nil
}

// wrap encrypts h with kek under associated data ad, as a binary
// EncryptedKeyset.
func wrap(h *keyset.Handle, kek tink.AEAD, ad []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&b), kek, ad); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
