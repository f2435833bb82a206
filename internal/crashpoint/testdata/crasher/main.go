// Command crasher reaches the crash point "test.point" and the pause point
// "test.pause" five times each, printing a line after each pair, so a test
// can see where it died or stopped.
package main

import (
	"fmt"

	"github.com/cryptoassets/cryptoassets/internal/crashpoint"
)

func main() {
	fmt.Printf("enabled %v\n", crashpoint.Enabled)
	for i := 1; i <= 5; i++ {
		crashpoint.Hit("test.point")
		crashpoint.Pause("test.pause")
		fmt.Printf("passed %d\n", i)
	}
}
