package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// MaxResponseSize bounds one reply. A raw block at the 4 MB weight limit is
// 8 MB as hex; anything beyond this is not a node we want to trust.
const MaxResponseSize = 64 << 20

// Config says how to reach a node.
type Config struct {
	// URL is the node's RPC endpoint, for example http://127.0.0.1:8332.
	URL string
	// User and Password authenticate with basic auth.
	User     string
	Password string
	// CookieFile, when set, is read for "user:password" on every connection
	// attempt (Bitcoin Core rewrites it when it restarts).
	CookieFile string
	// Timeout bounds one call when the caller's context has no deadline.
	Timeout time.Duration
	// Transport is the HTTP transport; nil means a private default one.
	// Tests wrap it to inject faults.
	Transport http.RoundTripper
}

// Client calls a node. It is safe for concurrent use.
type Client struct {
	cfg    Config
	http   *http.Client
	nextID atomic.Uint64
}

// Error is an error object returned by the node.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Method  string `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("node RPC %s: %s (code %d)", e.Method, e.Message, e.Code)
}

// Error codes shared by Bitcoin Core and btcd that callers branch on.
const (
	CodeMethodNotFound  = -32601
	CodeInvalidParams   = -8
	CodeBlockNotFound   = -5
	CodeVerifyRejected  = -26
	CodeVerifyAlreadyIn = -27
	CodeVerifyError     = -25
)

// IsMethodNotFound reports whether err says the node does not serve a method,
// which is how the client tells Bitcoin Core from btcd where they differ.
func IsMethodNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeMethodNotFound
}

// New checks cfg and returns a client. It does not contact the node.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("node RPC URL %q: want http://host:port", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	tr := cfg.Transport
	if tr == nil {
		tr = &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second}
	}
	return &Client{cfg: cfg, http: &http.Client{Transport: tr}}, nil
}

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type response struct {
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
	ID     uint64          `json:"id"`
}

// Call invokes method with params and decodes the result into out (which may
// be nil to discard it).
func (c *Client) Call(ctx context.Context, out any, method string, params ...any) error {
	raw, err := c.CallRaw(ctx, method, params...)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("node RPC %s: decoding result: %w", method, err)
	}
	return nil
}

// CallRaw invokes method and returns the raw JSON result.
func (c *Client) CallRaw(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	id := c.nextID.Add(1)
	data, err := c.post(ctx, method, request{JSONRPC: "1.0", ID: id, Method: method, Params: orEmpty(params)})
	if err != nil {
		return nil, err
	}
	var r response
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("node RPC %s: a body that is not JSON-RPC: %.200q", method, data)
	}
	if r.Error != nil {
		r.Error.Method = method
		return nil, r.Error
	}
	if r.ID != id {
		return nil, fmt.Errorf("node RPC %s: reply id %d does not match request id %d", method, r.ID, id)
	}
	return r.Result, nil
}

// MaxBatch bounds the calls of one CallBatch.
const MaxBatch = 1000

// CallBatch invokes method once for each list of params in one JSON-RPC
// batch (one HTTP request; Bitcoin Core and btcd both serve them), and
// returns each call's raw result or error, in the order asked. The error
// is for the batch as a whole: the node unreachable, or a reply that does
// not answer every call exactly once.
func (c *Client) CallBatch(ctx context.Context, method string, params [][]any) ([]json.RawMessage, []error, error) {
	if len(params) == 0 {
		return nil, nil, nil
	}
	if len(params) > MaxBatch {
		return nil, nil, fmt.Errorf("node RPC %s: a batch of %d calls, more than %d", method, len(params), MaxBatch)
	}
	reqs := make([]request, len(params))
	first := c.nextID.Add(uint64(len(params))) - uint64(len(params)) + 1
	for i, p := range params {
		// Batches are a JSON-RPC 2.0 feature.
		reqs[i] = request{JSONRPC: "2.0", ID: first + uint64(i), Method: method, Params: orEmpty(p)}
	}
	data, err := c.post(ctx, method, reqs)
	if err != nil {
		return nil, nil, err
	}
	return parseBatch(method, data, first, len(params))
}

// parseBatch reads the reply to a batch of n calls of method whose ids
// start at first: each call's result or error, in the order of the calls.
func parseBatch(method string, data []byte, first uint64, n int) ([]json.RawMessage, []error, error) {
	var rs []response
	if err := json.Unmarshal(data, &rs); err != nil {
		var single response
		if json.Unmarshal(data, &single) == nil && single.Error != nil {
			single.Error.Method = method
			return nil, nil, single.Error
		}
		return nil, nil, fmt.Errorf("node RPC %s: a batch reply that is not a JSON-RPC array: %.200q", method, data)
	}
	if len(rs) != n {
		return nil, nil, fmt.Errorf("node RPC %s: %d replies to a batch of %d calls", method, len(rs), n)
	}
	results, errs := make([]json.RawMessage, n), make([]error, n)
	answered := make([]bool, n)
	for _, r := range rs {
		i := r.ID - first
		if r.ID < first || i >= uint64(n) || answered[i] {
			return nil, nil, fmt.Errorf("node RPC %s: batch reply id %d answers no call of the batch, or one twice", method, r.ID)
		}
		answered[i] = true
		if r.Error != nil {
			r.Error.Method = method
			errs[i] = r.Error
			continue
		}
		results[i] = r.Result
	}
	return results, errs, nil
}

func orEmpty(params []any) []any {
	if params == nil {
		return []any{}
	}
	return params
}

// post sends one JSON-RPC body (a request or a batch) and returns the
// reply's body, refused when larger than MaxResponseSize or not allowed.
func (c *Client) post(ctx context.Context, method string, payload any) ([]byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("node RPC %s: encoding params: %w", method, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("node RPC %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	user, pass, err := c.credentials()
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, pass)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node RPC %s: %w", method, err)
	}
	defer resp.Body.Close()
	// A reply that says its length is read into one buffer of that size
	// (a block is tens of kilobytes to megabytes of hex).
	var buf bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= MaxResponseSize {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, MaxResponseSize+1))
	data := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("node RPC %s: reading reply: %w", method, err)
	}
	if len(data) > MaxResponseSize {
		return nil, fmt.Errorf("node RPC %s: reply larger than %d bytes", method, MaxResponseSize)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, fmt.Errorf("node RPC %s: authentication refused (HTTP %d): check rpc_user/rpc_password or the cookie file", method, resp.StatusCode)
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return nil, fmt.Errorf("node RPC %s: HTTP %d with a body that is not JSON-RPC: %.200q", method, resp.StatusCode, data)
	}
	return data, nil
}

func (c *Client) credentials() (string, string, error) {
	if c.cfg.CookieFile == "" {
		return c.cfg.User, c.cfg.Password, nil
	}
	b, err := os.ReadFile(c.cfg.CookieFile)
	if err != nil {
		return "", "", fmt.Errorf("node RPC cookie: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		return "", "", fmt.Errorf("node RPC cookie %s: want user:password", c.cfg.CookieFile)
	}
	return user, pass, nil
}
