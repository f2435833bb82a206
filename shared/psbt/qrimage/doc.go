// Package qrimage turns the text frames of an animated QR transport (UR parts
// such as "UR:CRYPTO-PSBT/12-30/LPBN..." or BBQr parts such as "B$2P0C00...")
// into QR code images, and reads such images back into text. It knows nothing
// about UR or BBQr: a frame is an opaque string that must survive the round
// trip byte for byte.
//
// Writing: EncodePNG, WritePNGs (numbered PNG files), WriteGIF (one animated
// GIF, every frame the same size) and Terminal (Unicode half blocks with
// explicit colours). The encoder, github.com/skip2/go-qrcode, chooses the QR
// mode itself; text made only of the QR alphanumeric set (0-9, A-Z, space,
// $%*+-./:) is written in alphanumeric mode, which is why UR frames should be
// upper-cased before they get here: a 300-character upper-case UR part fits
// a version 9 symbol at level L, the lower-case one needs version 11.
//
// Reading: DecodeImage, DecodeBytes and DecodeFile accept PNG, JPEG and GIF
// (every frame of an animated GIF). Each image or frame is expected to hold
// one QR code; a frame without one is an error, never silently skipped.
// Reading uses github.com/makiuchi-d/gozxing: its single-code reader with the
// TRY_HARDER hint, then (because that reader is sometimes misled by a
// finder-like pattern inside the data) its multi-code reader and its
// pure-barcode reader, all of them again on the inverted image so that
// light-on-dark screenshots read too. Text is returned exactly as encoded;
// bytes that are not UTF-8 are refused rather than replaced.
//
// Inputs are untrusted (files arrive on removable media at the air-gapped
// signer), so sizes are checked before anything large is allocated: at most
// MaxFileBytes of file, MaxImageSide pixels per side and 256 MiB of decoded
// pixels (both read from the image header before decoding), MaxGIFFrames
// frames, and a total pixel budget across the frames of a GIF. GIF files are
// split into frames by this package and decoded one frame at a time, so a GIF
// with many frames never sits in memory all at once. The time spent is
// bounded too: gozxing's finder pattern search is cubic in the number of
// candidate patterns, so a read gives up after a few dozen candidates.
package qrimage
