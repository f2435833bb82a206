// Package servetest runs the real cryptoassets program as a separate
// process, the way an operator runs it: it builds cmd/cryptoassets once per
// test process with the crashpoints build tag, writes a configuration for a
// test database and a regtest node, restores the development hot seed (the
// BIP84 test mnemonic "abandon … about") into a hot keystore, and then
// starts `serve`, waits for its API, kills it with SIGKILL, restarts it on
// the same port, runs CLI commands and reads its log.
package servetest
