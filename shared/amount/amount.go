// Package amount parses and formats bitcoin amounts exactly. An amount is an
// int64 count of satoshis; text is either a decimal BTC string with at most 8
// decimals or a whole number of satoshis. No float ever touches an amount.
package amount

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Satoshis per bitcoin and the most that can ever exist.
const (
	SatPerBTC = 100_000_000
	MaxSat    = 21_000_000 * SatPerBTC
)

// Errors callers can branch on; messages are meant for people.
var (
	ErrNotPositive = errors.New("amount must be greater than zero")
	ErrTooLarge    = errors.New("amount exceeds 21,000,000 BTC")
	ErrPrecision   = errors.New("amount has more than 8 decimal places (1 satoshi = 0.00000001 BTC)")
	ErrSyntax      = errors.New("amount is not a number")
)

// ParseBTC parses a decimal BTC string like "0.015" or "21000000" into
// satoshis. It refuses signs, exponents, spaces, more than 8 decimals, zero,
// and anything over 21 million BTC.
func ParseBTC(s string) (int64, error) {
	if s == "" || len(s) > 32 {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("%w: %q is negative", ErrNotPositive, s)
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: %q: want digits with an optional decimal point, like 0.015", ErrSyntax, s)
	}
	if len(frac) > 8 {
		return 0, fmt.Errorf("%w: %q", ErrPrecision, s)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 8 { // > 99,999,999 BTC, well over the cap
		return 0, fmt.Errorf("%w: %q", ErrTooLarge, s)
	}
	var w int64
	if whole != "" {
		w, _ = strconv.ParseInt(whole, 10, 64)
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 8-len(frac)), 10, 64)
	}
	return check(w*SatPerBTC+f, s)
}

// ParseSat parses a whole number of satoshis written in decimal digits.
func ParseSat(s string) (int64, error) {
	if s != "" && s[0] == '-' {
		return 0, fmt.Errorf("%w: %q is negative", ErrNotPositive, s)
	}
	if !digits(s) || s == "" || len(s) > 20 {
		return 0, fmt.Errorf("%w: %q: want a whole number of satoshis", ErrSyntax, s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrTooLarge, s)
	}
	return check(n, s)
}

// Check validates a satoshi amount from a trusted integer source.
func Check(sat int64) error {
	_, err := check(sat, strconv.FormatInt(sat, 10)+" sat")
	return err
}

func check(n int64, s string) (int64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("%w: %q", ErrNotPositive, s)
	}
	if n > MaxSat {
		return 0, fmt.Errorf("%w: %q", ErrTooLarge, s)
	}
	return n, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatBTC writes sat as BTC with exactly 8 decimals: "0.00150000". Negative
// amounts (internal ledger balances) keep their sign.
func FormatBTC(sat int64) string {
	sign := ""
	u := uint64(sat)
	if sat < 0 {
		sign = "-"
		u = uint64(-sat)
	}
	return fmt.Sprintf("%s%d.%08d", sign, u/SatPerBTC, u%SatPerBTC)
}
