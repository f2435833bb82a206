package keystore

import (
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// ShowAndConfirm shows a new mnemonic once on w, then asks for two of its
// words, chosen at random, back through answer (one call per word): typing
// them proves the backup exists before the seed is stored. A wrong word is
// an error and the caller stores nothing. Both programs' init use it.
func ShowAndConfirm(w io.Writer, mnemonic string, answer func() (string, error)) error {
	words := strings.Fields(mnemonic)
	if len(words) < 2 {
		return fmt.Errorf("%w: a mnemonic of %d words", ErrInvalidMnemonic, len(words))
	}
	fmt.Fprintln(w, "Write these words down, in order, on paper. They are shown once, and they ARE the money.")
	for i, word := range words {
		fmt.Fprintf(w, "%3d. %-10s", i+1, word)
		if (i+1)%4 == 0 {
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
	for _, k := range pickTwo(len(words)) {
		fmt.Fprintf(w, "Type word #%d: ", k+1)
		got, err := answer()
		if err != nil {
			return err
		}
		if strings.ToLower(strings.TrimSpace(got)) != words[k] {
			return fmt.Errorf("word #%d does not match: nothing was stored; run init again", k+1)
		}
	}
	return nil
}

// pickTwo returns two different positions below n, in order.
func pickTwo(n int) []int {
	a, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	b, _ := rand.Int(rand.Reader, big.NewInt(int64(n-1)))
	i, j := int(a.Int64()), int(b.Int64())
	if j >= i {
		j++
	}
	if j < i {
		i, j = j, i
	}
	return []int{i, j}
}
