package bbqr

import (
	"compress/flate"
	"io"
)

func newDeflater(w io.Writer) (*flate.Writer, error) { return flate.NewWriter(w, flate.BestCompression) }
