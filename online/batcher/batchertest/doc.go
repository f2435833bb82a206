// Package batchertest gives tests a cold wallet on a real database: its
// wallets row and addresses, sweep destinations, and top-ups exported and
// imported the way online/cold does, signed with the cold key through the
// one signer path (standing in for the air-gapped signer, which in
// production alone holds that key).
package batchertest
