package fuzzcorpus_test

import (
	"fmt"
	"math"

	"github.com/featurevault/featurevault/internal/fuzzcorpus"
)

// A seed of a fuzz target func(t *testing.T, data []byte, kind uint8, x float64)
// as the file go test reads back from testdata/fuzz/FuzzX/.
func ExampleMarshal() {
	b, err := fuzzcorpus.Marshal([]byte("ARROW1\x00\x00"), uint8(3), math.Inf(-1), "é\n")
	if err != nil {
		panic(err)
	}
	fmt.Print(string(b))
	// Output:
	// go test fuzz v1
	// []byte("ARROW1\x00\x00")
	// uint8(3)
	// float64(-Inf)
	// string("é\n")
}

func ExampleMarshal_unsupported() {
	_, err := fuzzcorpus.Marshal([]int{1})
	fmt.Println(err)
	// Output:
	// fuzzcorpus: cannot encode a []int; fuzz arguments are []byte, string, bool, integers and floats
}
