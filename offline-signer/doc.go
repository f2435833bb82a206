// Package offlinesigner is the root of the air-gapped signer's code. Nothing
// below it may import net/http, a database driver, the node RPC client or
// anything under online/: the test in cmd/cryptoassets-signer checks this.
package offlinesigner
