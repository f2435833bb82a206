// Package batchertest gives tests of the money-out path their stack and a
// cold wallet, on a real database and node, through the real parts.
//
// Stack is one asset's ledger, hot wallet, deposit follower, broadcaster and
// withdrawal service on its own regtest node and database, with the steps
// the tests take (fund an account, request a withdrawal, mine, count what
// was paid on the chain); the batcher's and the auditor's tests put their
// part on top. Fork is a second node beside a Stack's, to split the chain
// and join it again (a reorganisation).
//
// Cold is a cold wallet: the watch-only wallet (addresses.Cold), sweep
// destinations taken from it, top-ups exported by online/cold's TopUps and
// imported by its Importer, signed in between with the cold key through the
// one signer path (standing in for the air-gapped signer, which in
// production alone holds that key).
package batchertest
