package backup

import "errors"

// Sentinel errors. Functions wrap them with %w, naming the file or part and
// saying what to fix; test with errors.Is. No error holds a key, a value or
// an artifact's content.
var (
	// ErrUnknownPart: a part name is not data, keystore or audit.
	ErrUnknownPart = errors.New("backup: unknown part; use data, keystore or audit")

	// ErrNoManifest: the backup directory has no manifest.json, so it is not
	// a backup, or one that did not finish.
	ErrNoManifest = errors.New("backup: no manifest.json; give a directory that featurevault backup --out wrote (one without a manifest did not finish)")

	// ErrBadManifest: manifest.json cannot be parsed or contradicts itself.
	ErrBadManifest = errors.New("backup: manifest.json is not a FeatureVault backup manifest")

	// ErrPartMissing: a backup holds no artifact for a part asked for.
	ErrPartMissing = errors.New("backup: the backup holds no such part")

	// ErrChecksum: an artifact's size or SHA-256 differs from the manifest:
	// it is damaged or was altered.
	ErrChecksum = errors.New("backup: artifact does not match its SHA-256 in the manifest; it is damaged or was altered, so restore from another backup")

	// ErrTargetNotEmpty: a part's target directory already holds files.
	ErrTargetNotEmpty = errors.New("backup: target directory is not empty; restore into a new directory (or remove this one if you mean to replace it)")

	// ErrBrokenChain: incremental backups given out of order, or with a gap.
	ErrBrokenChain = errors.New("backup: incremental backups do not follow each other; give the full backup first, then each incremental one in the order they were made")

	// ErrOutputExists: the output directory already holds a backup.
	ErrOutputExists = errors.New("backup: the output directory already holds a backup; give a new directory")
)
