// Package transport moves a PSBT across the air gap as a run of QR frames,
// in either standard air-gapped wallets read: UR (ur:crypto-psbt, fountain
// coded) or BBQr (Coinkite). Frames turns PSBT bytes into frame texts at a
// chosen density; an Assembler takes frames in any order and in either
// format (one format per PSBT), reports progress, and returns the PSBT bytes.
// Rendering frames as images is qrimage's job.
package transport
