package amount

import (
	"errors"
	"strconv"
	"testing"
)

func TestParseBTC(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{"1", SatPerBTC, nil},
		{"0.00000001", 1, nil},
		{"0.1", 10_000_000, nil},
		{"000.5", 50_000_000, nil},
		{"21000000", MaxSat, nil},
		{"21000000.00000000", MaxSat, nil},
		{"20999999.99999999", MaxSat - 1, nil},
		{"21000000.00000001", 0, ErrTooLarge},
		{"99999999999", 0, ErrTooLarge},
		{"0", 0, ErrNotPositive},
		{"0.00000000", 0, ErrNotPositive},
		{"-1", 0, ErrNotPositive},
		{"0.000000001", 0, ErrPrecision},
		{"1.", 0, ErrSyntax},
		{".5", 0, ErrSyntax},
		{"1e3", 0, ErrSyntax},
		{"+1", 0, ErrSyntax},
		{" 1", 0, ErrSyntax},
		{"1,5", 0, ErrSyntax},
		{"", 0, ErrSyntax},
		{"0x10", 0, ErrSyntax},
		{"１", 0, ErrSyntax},
		{"NaN", 0, ErrSyntax},
	}
	for _, tc := range tests {
		got, err := ParseBTC(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("ParseBTC(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseSat(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  error
	}{
		{"1", 1, nil},
		{"2100000000000000", MaxSat, nil},
		{"2100000000000001", 0, ErrTooLarge},
		{"99999999999999999999", 0, ErrTooLarge},
		{"0", 0, ErrNotPositive},
		{"-5", 0, ErrNotPositive},
		{"1.0", 0, ErrSyntax},
		{"", 0, ErrSyntax},
	}
	for _, tc := range tests {
		got, err := ParseSat(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("ParseSat(%q) = %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFormatBTC(t *testing.T) {
	for sat, want := range map[int64]string{1: "0.00000001", MaxSat: "21000000.00000000", -150_000_000: "-1.50000000", 0: "0.00000000"} {
		if got := FormatBTC(sat); got != want {
			t.Errorf("FormatBTC(%d) = %s, want %s", sat, got, want)
		}
	}
}

func FuzzParseBTC(f *testing.F) {
	for _, s := range []string{"1", "0.00000001", "21000000", "1.2.3", "-0", "00000000000000000001.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBTC(s)
		if err != nil {
			return
		}
		if n <= 0 || n > MaxSat {
			t.Fatalf("accepted %q as %d", s, n)
		}
		back, err := ParseBTC(FormatBTC(n))
		if err != nil || back != n {
			t.Fatalf("%q: %d does not round-trip through %s", s, n, FormatBTC(n))
		}
		if sat, err := ParseSat(strconv.FormatInt(n, 10)); err != nil || sat != n {
			t.Fatalf("%d as satoshis: %d %v", n, sat, err)
		}
	})
}
