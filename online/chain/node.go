package chain

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/cryptoassets/cryptoassets/online/chain/rpc"
)

// Node is all the chain access the service needs.
type Node interface {
	// Tip returns the height and hash of the node's best block.
	Tip(ctx context.Context) (int32, chainhash.Hash, error)
	// BlockHash returns the hash of the best-chain block at height, or
	// ErrNoBlock when the chain is shorter.
	BlockHash(ctx context.Context, height int32) (chainhash.Hash, error)
	// BlockHashes returns the hashes of the best-chain blocks at heights
	// from to to, in order, in one request; fewer when the chain is
	// shorter, and ErrNoBlock when it holds none of them.
	BlockHashes(ctx context.Context, from, to int32) ([]chainhash.Hash, error)
	// Block returns the block with this hash, parsed.
	Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error)
	// MempoolTxids lists the transactions in the node's mempool.
	MempoolTxids(ctx context.Context) ([]chainhash.Hash, error)
	// Transaction returns a mempool transaction (or a confirmed one when the
	// node keeps a transaction index), or ErrNoTransaction.
	Transaction(ctx context.Context, txid chainhash.Hash) (*wire.MsgTx, error)
	// Broadcast submits a signed transaction to the mempool.
	Broadcast(ctx context.Context, tx *wire.MsgTx) (chainhash.Hash, error)
	// IsUnspent reports whether an output exists and is unspent in the
	// best chain (mempool spends count as spent).
	IsUnspent(ctx context.Context, op wire.OutPoint) (bool, error)
	// Network names the chain the node follows, as the service's
	// configuration spells it: mainnet, testnet, signet or regtest (another
	// chain, such as testnet4 or simnet, keeps its own name).
	Network(ctx context.Context) (string, error)
}

// ErrNoBlock and ErrNoTransaction say the node does not have what was asked.
var (
	ErrNoBlock       = errors.New("no such block")
	ErrNoTransaction = errors.New("no such transaction")
)

// RPCNode is a Node over a node's JSON-RPC interface.
type RPCNode struct{ c *rpc.Client }

// NewRPCNode wraps a JSON-RPC client.
func NewRPCNode(c *rpc.Client) *RPCNode { return &RPCNode{c: c} }

// Tip implements Node.
func (n *RPCNode) Tip(ctx context.Context) (int32, chainhash.Hash, error) {
	var info struct {
		Blocks        int32  `json:"blocks"`
		BestBlockHash string `json:"bestblockhash"`
	}
	if err := n.c.Call(ctx, &info, "getblockchaininfo"); err != nil {
		return 0, chainhash.Hash{}, err
	}
	h, err := chainhash.NewHashFromStr(info.BestBlockHash)
	if err != nil {
		return 0, chainhash.Hash{}, fmt.Errorf("getblockchaininfo: bestblockhash %q: %w", info.BestBlockHash, err)
	}
	return info.Blocks, *h, nil
}

// BlockHash implements Node.
func (n *RPCNode) BlockHash(ctx context.Context, height int32) (chainhash.Hash, error) {
	raw, err := n.c.CallRaw(ctx, "getblockhash", height)
	return blockHash(height, raw, err)
}

// blockHash reads getblockhash's reply (or error) for height.
func blockHash(height int32, raw json.RawMessage, err error) (chainhash.Hash, error) {
	if err != nil {
		var re *rpc.Error
		if errors.As(err, &re) && (re.Code == -8 || re.Code == -1 || re.Code == -5) {
			return chainhash.Hash{}, fmt.Errorf("%w at height %d", ErrNoBlock, height)
		}
		return chainhash.Hash{}, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return chainhash.Hash{}, fmt.Errorf("getblockhash %d: %w", height, err)
	}
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("getblockhash %d: %w", height, err)
	}
	return *h, nil
}

// BlockHashes implements Node with one JSON-RPC batch of getblockhash
// calls.
func (n *RPCNode) BlockHashes(ctx context.Context, from, to int32) ([]chainhash.Hash, error) {
	if from < 0 || to < from || int64(to)-int64(from) >= rpc.MaxBatch {
		return nil, fmt.Errorf("block hashes of heights %d to %d: want 0 <= from <= to, at most %d", from, to, rpc.MaxBatch)
	}
	params := make([][]any, 0, to-from+1)
	for h := from; h <= to; h++ {
		params = append(params, []any{h})
	}
	raws, errs, err := n.c.CallBatch(ctx, "getblockhash", params)
	if err != nil {
		return nil, err
	}
	out := make([]chainhash.Hash, 0, len(raws))
	for i := range raws {
		h, err := blockHash(from+int32(i), raws[i], errs[i])
		if errors.Is(err, ErrNoBlock) && len(out) > 0 {
			break // the chain ends here
		}
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// Block implements Node. It asks for the raw block (verbosity 0), which both
// nodes serve identically, and checks the bytes hash to what was asked.
func (n *RPCNode) Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	reply, err := n.c.CallRaw(ctx, "getblock", hash.String(), 0)
	if err != nil {
		var re *rpc.Error
		if errors.As(err, &re) && re.Code == rpc.CodeBlockNotFound {
			return nil, fmt.Errorf("%w: %s", ErrNoBlock, hash)
		}
		return nil, err
	}
	raw, err := hexString(reply)
	if err != nil {
		return nil, fmt.Errorf("getblock %s: %w", hash, err)
	}
	var b wire.MsgBlock
	if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("getblock %s: %w", hash, err)
	}
	if got := b.BlockHash(); got != hash {
		return nil, fmt.Errorf("getblock %s: node returned block %s", hash, got)
	}
	return &b, nil
}

// hexString decodes a JSON string of hex digits. Hex digits need no
// escaping, so the bytes between the quotes are decoded as they are, in
// one pass; a string with escapes in it (which no node sends) is unquoted
// by the JSON decoder first.
func hexString(reply json.RawMessage) ([]byte, error) {
	if n := len(reply); n >= 2 && reply[0] == '"' && reply[n-1] == '"' {
		body := reply[1 : n-1]
		if bytes.IndexByte(body, '\\') < 0 {
			out := make([]byte, hex.DecodedLen(len(body)))
			if _, err := hex.Decode(out, body); err != nil {
				return nil, fmt.Errorf("not hex: %w", err)
			}
			return out, nil
		}
	}
	var s string
	if err := json.Unmarshal(reply, &s); err != nil {
		return nil, fmt.Errorf("not a JSON string: %w", err)
	}
	out, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	return out, nil
}

// MempoolTxids implements Node.
func (n *RPCNode) MempoolTxids(ctx context.Context) ([]chainhash.Hash, error) {
	var ids []string
	if err := n.c.Call(ctx, &ids, "getrawmempool"); err != nil {
		return nil, err
	}
	out := make([]chainhash.Hash, 0, len(ids))
	for _, s := range ids {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			return nil, fmt.Errorf("getrawmempool: %q: %w", s, err)
		}
		out = append(out, *h)
	}
	return out, nil
}

// Transaction implements Node.
func (n *RPCNode) Transaction(ctx context.Context, txid chainhash.Hash) (*wire.MsgTx, error) {
	reply, err := n.c.CallRaw(ctx, "getrawtransaction", txid.String(), 0)
	if err != nil {
		var re *rpc.Error
		if errors.As(err, &re) && re.Code == rpc.CodeBlockNotFound {
			return nil, fmt.Errorf("%w: %s", ErrNoTransaction, txid)
		}
		return nil, err
	}
	raw, err := hexString(reply)
	if err != nil {
		return nil, fmt.Errorf("getrawtransaction %s: %w", txid, err)
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("getrawtransaction %s: %w", txid, err)
	}
	if got := tx.TxHash(); got != txid {
		return nil, fmt.Errorf("getrawtransaction %s: node returned %s", txid, got)
	}
	return &tx, nil
}

// Broadcast implements Node.
func (n *RPCNode) Broadcast(ctx context.Context, tx *wire.MsgTx) (chainhash.Hash, error) {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return chainhash.Hash{}, err
	}
	var s string
	if err := n.c.Call(ctx, &s, "sendrawtransaction", hex.EncodeToString(buf.Bytes())); err != nil {
		return chainhash.Hash{}, err
	}
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("sendrawtransaction: %q: %w", s, err)
	}
	return *h, nil
}

// Network implements Node from getblockchaininfo's chain, which Bitcoin Core
// spells main, test, testnet4, signet, regtest and btcd mainnet, testnet3,
// signet, regtest, simnet.
func (n *RPCNode) Network(ctx context.Context) (string, error) {
	var info struct {
		Chain string `json:"chain"`
	}
	if err := n.c.Call(ctx, &info, "getblockchaininfo"); err != nil {
		return "", err
	}
	return NetworkName(info.Chain)
}

// NetworkName maps a node's chain name to the configuration's.
func NetworkName(chain string) (string, error) {
	switch chain {
	case "main", "mainnet":
		return "mainnet", nil
	case "test", "testnet", "testnet3":
		return "testnet", nil
	case "":
		return "", errors.New("getblockchaininfo: the node names no chain")
	}
	return chain, nil
}

// CheckNetwork returns an error naming both networks when the node does not
// follow want.
func CheckNetwork(ctx context.Context, n Node, asset, want string) error {
	got, err := n.Network(ctx)
	if err != nil {
		return fmt.Errorf("asset %s: asking the node for its network: %w", asset, err)
	}
	if got != want {
		return fmt.Errorf("%w: asset %s is recorded as network %s but its node follows %s: point assets.%s.rpc_url at a %s node",
			ErrWrongNetwork, asset, want, got, asset, want)
	}
	return nil
}

// ErrWrongNetwork means a node follows another chain than its asset's.
var ErrWrongNetwork = errors.New("wrong network")

// IsUnspent implements Node with gettxout, which both nodes serve.
func (n *RPCNode) IsUnspent(ctx context.Context, op wire.OutPoint) (bool, error) {
	raw, err := n.c.CallRaw(ctx, "gettxout", op.Hash.String(), op.Index, true)
	if err != nil {
		return false, err
	}
	return len(raw) > 0 && string(raw) != "null", nil
}
