// Package psbt is the common language of the online service and the
// air-gapped signer: a strict codec for PSBTs (BIP174, version 0) and a
// verified summary of what a PSBT would do, for a person to review before
// signing.
//
// # Codec
//
// Decode and DecodeReader accept binary, base64 or hex, bounded in size. Before
// btcutil/psbt parses anything, a structural scan written here walks every
// key-value map and refuses what BIP174 forbids or this project does not
// accept: PSBT version 2 (ErrVersion2), version 2 fields in a version 0 PSBT,
// duplicate keys (ErrDuplicateKey), bytes after the last output map
// (ErrTrailingData), more than MaxFieldsPerMap fields in a map or MaxFields in
// the PSBT (ErrTooManyFields: the library's duplicate check is quadratic in a
// map's size), a missing or signed unsigned transaction, one that spends the
// same coin twice or already weighs more than nodes relay (400,000 WU), map counts that do not match it, lengths that run past the
// end, and field values that the library would misread or panic on
// (ErrMalformed). Unknown and proprietary keys are kept, as BIP174 asks. Every
// error from Decode wraps exactly one of ErrTooLarge, ErrMalformed,
// ErrVersion2, ErrDuplicateKey, ErrTrailingData or ErrTooManyFields.
//
// # Summary
//
// Summarize describes inputs, outputs and the fee. The fee is computed only
// from amounts it can trust, never with btcutil/psbt.SumUtxoInputValues:
//
//   - An input with non_witness_utxo (the full previous transaction) must hash
//     to the outpoint's txid, have the spent output, and, if witness_utxo is
//     also present, agree with it exactly in amount and script; otherwise
//     Summarize fails with ErrUTXOMismatch. Such an input's amount is verified.
//   - A taproot input with only witness_utxo is verified too: its BIP341
//     signature commits to its own amount and script, so a false amount only
//     makes the signature invalid; it cannot make anyone pay a hidden fee.
//   - Any other input with only witness_utxo (segwit v0, P2SH-wrapped, or a
//     script that is not segwit at all) is not verified: its amount is shown
//     and used for the fee, but with a warning, and Summary.FeeVerified is
//     false. This is the CVE-2020-14199 fee attack surface.
//   - An input with no UTXO data leaves the fee unknown, with a warning.
//
// Output addresses are rendered for the network given; a script without an
// address form is shown as hex with a warning. An output carrying BIP32 or
// taproot derivations only claims an origin: Summarize never calls it change;
// the signer re-derives it and sets Output.Label to what it found. The text
// also shows the transaction version, each input's sequence where it is not
// the usual replaceable 0xfffffffd (relative time locks in blocks or
// seconds), the locktime in words, and whose signatures an input carries.
//
// The QR transports live in the sub-packages ur, bbqr and qrimage.
package psbt
