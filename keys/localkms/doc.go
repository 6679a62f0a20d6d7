// Package localkms is a key-management "service" made of one local file: a
// cleartext Tink AES256-GCM keyset that serves as FeatureVault's root key when
// no real KMS is configured.
//
// # This is the only place that touches cleartext key material
//
// Everywhere else in FeatureVault, keysets are read and written encrypted
// (keyset.Handle.WriteWithAssociatedData / keyset.ReadWithAssociatedData). The
// root keyset file cannot be: something has to be the root. This package
// therefore is the single importer of insecurecleartextkeyset, so that a
// reviewer can audit every use of cleartext key material by reading it alone
// (client.go reads the file, create.go writes it, rotate.go adds a version
// and destroys older ones, replacing the file atomically). Its errors name the file path and never contain key bytes
// or file contents.
//
// Whoever can read the root file can unwrap every key under it. Create keeps it
// at mode 0600 in a 0700 directory; production deployments should use a real KMS
// instead (hcvault://, aws-kms://, gcp-kms://), whose keys never leave it.
//
// A local URI is "local://" followed by an absolute path:
//
//	local:///var/lib/featurevault/root.json
package localkms
