// Package bbqr splits files into BBQr ("Better Bitcoin QR", Coinkite) parts
// and joins them back. A part is an 8-character header (B$, encoding, file
// type, total parts and index in base36) and a slice of the encoded file.
//
// It writes encodings H (upper-case hex) and 2 (Base32 without padding) and
// reads those and Z (raw DEFLATE, then Base32). Parts may arrive in any
// order and repeat; parts of different files mixed together are refused, and
// decompression is bounded so a small hostile input cannot expand without
// limit.
package bbqr
