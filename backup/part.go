package backup

import (
	"fmt"
	"slices"
	"strings"
)

// Part is one database of a store, backed up and restored on its own.
type Part string

// The parts, named as the CLI and the manifest spell them. Each is also the
// name of its directory in a store's data directory.
const (
	PartData     Part = "data"
	PartKeystore Part = "keystore"
	PartAudit    Part = "audit"
)

// Parts returns every part in the order a backup takes them: data first
// and the keystore last, so that every subject key a backed-up row needs is
// in the keystore backup, unless the subject was erased in between (whose
// rows then stay unreadable, as they should).
func Parts() []Part { return []Part{PartData, PartAudit, PartKeystore} }

// File is the name of the part's artifact in a backup directory.
func (p Part) File() string { return string(p) + ".fvbackup" }

// ParsePart reads a part's name.
func ParsePart(s string) (Part, error) {
	p := Part(strings.TrimSpace(s))
	if !slices.Contains(Parts(), p) {
		return "", fmt.Errorf("%w, not %q", ErrUnknownPart, s)
	}
	return p, nil
}

// ParseParts reads a comma-separated list of parts ("data,keystore") and
// returns them in the order of Parts, each once. An empty list is every
// part.
func ParseParts(list string) ([]Part, error) {
	if strings.TrimSpace(list) == "" {
		return Parts(), nil
	}
	want := map[Part]bool{}
	for s := range strings.SplitSeq(list, ",") {
		p, err := ParsePart(s)
		if err != nil {
			return nil, err
		}
		want[p] = true
	}
	var out []Part
	for _, p := range Parts() {
		if want[p] {
			out = append(out, p)
		}
	}
	return out, nil
}
