package fanout_test

import (
	"fmt"

	"github.com/featurevault/featurevault/internal/fanout"
)

// Squares fills each item of its own range; the ranges never overlap.
func ExampleRun() {
	squares := make([]int, 100)
	err := fanout.Run(len(squares), 10, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			squares[i] = i * i
		}
		return nil
	})
	fmt.Println(squares[99], err)
	// Output: 9801 <nil>
}
