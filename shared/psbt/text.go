package psbt

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

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
		case in.AmountFromPrevTx:
			fmt.Fprintf(&b, "       %s  (verified)\n", btcAndSat(in.Amount))
		case in.AmountVerified:
			fmt.Fprintf(&b, "       %s  (claimed: not checked against its previous transaction; the taproot signature commits to it, so a false amount only invalidates the signature)\n", btcAndSat(in.Amount))
		default:
			fmt.Fprintf(&b, "       %s  (NOT VERIFIED)\n", btcAndSat(in.Amount))
		}
		writeOrigins(&b, in.KeyOrigins)
		if in.SighashType != 0 {
			fmt.Fprintf(&b, "       sighash %s\n", sighashName(in.SighashType))
		}
		if words := sequenceWords(in.Sequence, s.Version); words != "" {
			fmt.Fprintf(&b, "       %s\n", words)
		}
		if in.Finalized {
			b.WriteString("       finalized: a final script is already present\n")
		}
		if in.TaprootSigned {
			b.WriteString("       carries a taproot signature\n")
		}
		for _, k := range in.PartialSigKeys {
			fmt.Fprintf(&b, "       carries a partial signature from key %x%s\n", k, namedKey(k, in.KeyOrigins))
		}
	}

	b.WriteString("\nOutputs\n")
	for i, out := range s.Outputs {
		dest := out.Address
		if dest == "" {
			dest = fmt.Sprintf("script %x (no address)", out.Script)
		}
		fmt.Fprintf(&b, "  #%d  %s\n       %s", i, dest, btcAndSat(out.Amount))
		switch {
		case out.Label != "":
			b.WriteString("  " + out.Label)
		case out.ClaimedChange:
			b.WriteString("  (the PSBT states a key origin for it; not verified here)")
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
	fmt.Fprintf(&b, "Version    %d\n", s.Version)
	fmt.Fprintf(&b, "Locktime   %s\n", s.lockTimeWords())
	return b.String()
}

// lockTimeWords says what the transaction's locktime means.
func (s *Summary) lockTimeWords() string {
	if s.LockTime == 0 {
		return "none: minable at once"
	}
	var what string
	if s.LockTime < txscript.LockTimeThreshold {
		what = fmt.Sprintf("block %d: not minable before block %d", s.LockTime, s.LockTime)
	} else {
		what = fmt.Sprintf("%s: not minable before that time (median time past)",
			time.Unix(int64(s.LockTime), 0).UTC().Format(time.RFC3339))
	}
	for _, in := range s.Inputs {
		if in.Sequence != wire.MaxTxInSequenceNum {
			return what
		}
	}
	return what + " (but disabled: every input's sequence is final)"
}

// rbfSequence is the sequence our builders write: replaceable (BIP125),
// locktime enabled, no relative lock. Only other values are shown.
const rbfSequence = wire.MaxTxInSequenceNum - 2

// sequenceWords says what an input's sequence means, or "" for the usual
// replaceable sequence.
func sequenceWords(seq uint32, version int32) string {
	switch {
	case seq == rbfSequence:
		return ""
	case seq == wire.MaxTxInSequenceNum:
		return "sequence 0xffffffff: final (not replaceable)"
	case seq == wire.MaxTxInSequenceNum-1:
		return "sequence 0xfffffffe: not replaceable"
	case version < 2 || seq&wire.SequenceLockTimeDisabled != 0:
		return fmt.Sprintf("sequence %#08x: replaceable, no relative time lock", seq)
	case seq&wire.SequenceLockTimeIsSeconds != 0:
		secs := int64(seq&wire.SequenceLockTimeMask) << wire.SequenceLockTimeGranularity
		return fmt.Sprintf("sequence %d: relative time lock of %d s (%s) after its coin confirms; replaceable",
			seq, secs, time.Duration(secs)*time.Second)
	}
	return fmt.Sprintf("sequence %d: relative time lock of %d blocks after its coin confirms; replaceable", seq, seq&wire.SequenceLockTimeMask)
}

// namedKey says whether the PSBT names a partial signature's key.
func namedKey(key []byte, origins []KeyOrigin) string {
	for _, o := range origins {
		if bytes.Equal(o.PubKey, key) {
			return fmt.Sprintf(" (the key the PSBT states at [%s] %s)", o.FingerprintHex(), o.PathString())
		}
	}
	return " (a key the PSBT does not name)"
}

func writeOrigins(b *strings.Builder, origins []KeyOrigin) {
	for _, o := range origins {
		fmt.Fprintf(b, "       key [%s] %s\n", o.FingerprintHex(), o.PathString())
	}
}

func btcAndSat(sat int64) string {
	return fmt.Sprintf("%s BTC (%d sat)", amount.FormatBTC(sat), sat)
}
