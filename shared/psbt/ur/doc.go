// Package ur encodes and decodes Uniform Resources (BCR-2020-005): typed
// CBOR sent as text, split when long into fountain-coded parts for animated
// QR codes. It is the PSBT transport that Sparrow, SeedSigner and Keystone
// speak ("ur:crypto-psbt/...").
//
// The pieces follow the specifications and their reference vectors exactly,
// since sender and receiver must agree bit for bit: bytewords (BCR-2020-012,
// the table of October 2020) with a CRC32 checksum, the Xoshiro256**
// generator and Walker alias sampler that pick which fragments each fountain
// part mixes, and the CBOR part header [seqNum, seqLen, messageLen,
// checksum, fragment].
//
// Decoding takes parts read from a camera, so it is built for hostile
// input: parts in any case, order and number, duplicates ignored, a bad
// part refused without disturbing the parts before it, parts of two
// messages never blended (ErrMixedMessages), and memory bounded by
// MaxMessageLen and MaxSeqLen whatever a part header claims.
package ur
