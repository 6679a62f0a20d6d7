package backup_test

import (
	"fmt"

	"github.com/featurevault/featurevault/backup"
)

// ExampleParseParts shows the order a backup takes the parts in, whatever
// order they are asked in: data first and the keystore last, so that every
// key a backed-up row needs is in the keystore backup.
func ExampleParseParts() {
	parts, err := backup.ParseParts("keystore,data")
	if err != nil {
		panic(err)
	}
	for _, p := range parts {
		fmt.Println(p, "->", p.File())
	}
	_, err = backup.ParseParts("data,keys")
	fmt.Println(err)
	// Output:
	// data -> data.fvbackup
	// keystore -> keystore.fvbackup
	// backup: unknown part; use data, keystore or audit, not "keys"
}
