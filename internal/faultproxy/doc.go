// Package faultproxy is a TCP proxy for a node's JSON-RPC port (HTTP, no
// TLS, as devenv's btcd and a local Bitcoin Core listen) that loses replies
// on purpose.
//
// Every request is forwarded to the node. For a request whose JSON-RPC
// method is the one chosen, the node is asked and answers as usual, and the
// proxy then sends the client only the first part of the reply's bytes and
// closes the client's connection: the client sees a broken reply to a call
// the node has carried out. That is the fault a wallet meets when its
// connection drops while sendrawtransaction answers.
package faultproxy
