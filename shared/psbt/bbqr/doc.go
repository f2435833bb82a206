// Package bbqr splits files into BBQr ("Better Bitcoin QR", Coinkite)
// parts for animated QR codes and joins them back: the PSBT transport of
// the Coldcard Q. A part is an 8-character header ("B$", encoding, file
// type, part count and index in base36) followed by a slice of the encoded
// file, all in the QR alphanumeric character set.
//
// It writes encodings H (upper-case hex) and 2 (Base32 without padding) and
// reads those and Z (raw DEFLATE, then Base32). Parts may arrive in any
// order and repeat; a part of another file is refused (ErrMixedMessages),
// and a joined file is bounded by MaxFileLen even after decompression, so
// a small hostile input cannot expand without limit.
package bbqr
