// Package rpc is a small JSON-RPC client for a Bitcoin node: Bitcoin Core in
// production, btcd in tests. It speaks plain HTTP POST with basic auth (or a
// cookie file), honours the caller's context on every call, and turns the
// node's error objects into *Error values callers can branch on.
//
// It knows nothing about what the calls mean; the chain follower and the
// broadcaster build on it.
package rpc
