// Command crasher reaches the crash point "test.point" five times, printing
// a line after each, so a test can see where it died.
package main

import (
	"fmt"

	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
)

func main() {
	fmt.Printf("enabled %v\n", crashpoint.Enabled)
	for i := 1; i <= 5; i++ {
		crashpoint.Hit("test.point")
		fmt.Printf("passed %d\n", i)
	}
}
