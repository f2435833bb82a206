// Package batchertest gives tests a cold wallet on a real database and node
// through the real parts: the watch-only wallet (addresses.Cold), sweep
// destinations taken from it, top-ups exported by online/cold's TopUps and
// imported by its Importer, signed in between with the cold key through the
// one signer path (standing in for the air-gapped signer, which in
// production alone holds that key).
package batchertest
