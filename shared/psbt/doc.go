// Package psbt is the common language of the online service and the
// air-gapped signer: a strict PSBT (BIP174, version 0) codec and a verified
// summary of what a PSBT would do, for a person to review.
//
// Decode accepts binary, base64 or hex, bounded in size, and refuses what
// BIP174 forbids or this project does not accept: PSBT version 2, duplicate
// keys, trailing bytes, a malformed or signed unsigned transaction, and map
// counts that do not match it. Summarize computes the fee only from UTXO
// data it could cross-check: for a segwit v0 input the full previous
// transaction must hash to the outpoint and agree with the witness UTXO
// (the CVE-2020-14199 fee attack is refused, not shown).
//
// The QR transports live beside it: ur (BCR-2020-005), bbqr (Coinkite BBQr)
// and qrimage (PNG, GIF and terminal QR codes).
package psbt
