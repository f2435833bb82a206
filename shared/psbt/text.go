package psbt

import (
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/txscript"

	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// Text renders the summary as a review screen: warnings first, then inputs,
// outputs and the fee. Amounts are shown in BTC with 8 decimals and in
// satoshis.
func (s *Summary) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PSBT review (%s): %d input(s), %d output(s)\n", s.Network, len(s.Inputs), len(s.Outputs))
	fmt.Fprintf(&b, "Transaction ID %s\n", s.TxID)

	if len(s.Warnings) > 0 {
		fmt.Fprintf(&b, "\n!!! %d WARNING(S): READ BEFORE SIGNING !!!\n", len(s.Warnings))
		for _, w := range s.Warnings {
			fmt.Fprintf(&b, "!!! %s\n", w)
		}
	}

	b.WriteString("\nInputs\n")
	for i, in := range s.Inputs {
		fmt.Fprintf(&b, "  #%d  %s  %s\n", i, in.OutPoint, in.ScriptType)
		switch {
		case !in.AmountKnown:
			b.WriteString("       amount UNKNOWN\n")
		case in.AmountVerified:
			fmt.Fprintf(&b, "       %s  (verified)\n", btcAndSat(in.Amount))
		default:
			fmt.Fprintf(&b, "       %s  (NOT VERIFIED)\n", btcAndSat(in.Amount))
		}
		writeOrigins(&b, in.KeyOrigins)
		if in.SighashType != 0 {
			fmt.Fprintf(&b, "       sighash %s\n", sighashName(in.SighashType))
		}
		if in.Signed {
			b.WriteString("       already signed\n")
		}
	}

	b.WriteString("\nOutputs\n")
	for i, out := range s.Outputs {
		dest := out.Address
		if dest == "" {
			dest = fmt.Sprintf("script %x (no address)", out.Script)
		}
		fmt.Fprintf(&b, "  #%d  %s\n       %s", i, dest, btcAndSat(out.Amount))
		if out.ClaimedChange {
			b.WriteString("  CHANGE (claimed by the PSBT, to be checked by the signer)")
		}
		b.WriteString("\n")
		writeOrigins(&b, out.KeyOrigins)
	}

	b.WriteString("\n")
	fmt.Fprintf(&b, "Total in   %s\n", btcAndSat(s.TotalIn))
	fmt.Fprintf(&b, "Total out  %s\n", btcAndSat(s.TotalOut))
	switch {
	case !s.FeeKnown:
		b.WriteString("Fee        UNKNOWN: some inputs carry no amount\n")
	case s.FeeVerified:
		fmt.Fprintf(&b, "Fee        %s  (verified)\n", btcAndSat(s.Fee))
	default:
		fmt.Fprintf(&b, "Fee        %s  (NOT VERIFIED: see warnings)\n", btcAndSat(s.Fee))
	}
	fmt.Fprintf(&b, "Size       about %d vB (estimated)\n", s.EstimatedVSize)
	if s.FeeKnown {
		r := s.FeeRateSatPerKvB
		fmt.Fprintf(&b, "Fee rate   about %d.%02d sat/vB\n", r/1000, r%1000/10)
	}
	switch {
	case s.LockTime == 0:
	case s.LockTime < txscript.LockTimeThreshold:
		fmt.Fprintf(&b, "Locktime   block %d (not minable before it, if any input's sequence enables it)\n", s.LockTime)
	default:
		fmt.Fprintf(&b, "Locktime   %s (not minable before it, if any input's sequence enables it)\n",
			time.Unix(int64(s.LockTime), 0).UTC().Format(time.RFC3339))
	}
	return b.String()
}

func writeOrigins(b *strings.Builder, origins []KeyOrigin) {
	for _, o := range origins {
		fmt.Fprintf(b, "       key [%s] %s\n", o.FingerprintHex(), o.PathString())
	}
}

func btcAndSat(sat int64) string {
	return fmt.Sprintf("%s BTC (%d sat)", amount.FormatBTC(sat), sat)
}
