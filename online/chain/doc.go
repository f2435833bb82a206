// Package chain reads the block chain from a Bitcoin node for the rest of the
// service. Node is the small interface the follower and the broadcaster need;
// RPCNode implements it over JSON-RPC with only the calls Bitcoin Core and
// btcd both serve (raw blocks are parsed here, so the two nodes' different
// verbose formats never matter). Tests wrap a real node to inject faults.
package chain
