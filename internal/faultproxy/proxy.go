package faultproxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// All, passed to CutReplies, cuts every matching reply.
const All = -1

// maxBody bounds a request body the proxy reads to find its method.
const maxBody = 64 << 20

// Proxy forwards connections from its listener to the node.
type Proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	method string // JSON-RPC method whose replies are cut
	budget int    // replies still to cut; All for every one

	seen     atomic.Int64 // requests for method
	cut      atomic.Int64 // of those, replies cut
	requests atomic.Int64 // every request forwarded

	wg     sync.WaitGroup
	closed atomic.Bool
	conns  sync.Map // net.Conn → struct{}
}

// Start listens on a free loopback port and forwards to target
// ("host:port" of the node's RPC). It cuts nothing until CutReplies.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// CutReplies makes the proxy cut the next n replies to method (All: every
// one); n = 0 stops cutting.
func (p *Proxy) CutReplies(method string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.method, p.budget = method, n
}

// Addr is the proxy's "host:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's RPC URL, to configure in place of the node's.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Seen counts requests for the chosen method, whether cut or not.
func (p *Proxy) Seen() int { return int(p.seen.Load()) }

// Cut counts replies the proxy cut.
func (p *Proxy) Cut() int { return int(p.cut.Load()) }

// Requests counts every request forwarded.
func (p *Proxy) Requests() int { return int(p.requests.Load()) }

// Close stops listening and drops every connection.
func (p *Proxy) Close() error {
	p.closed.Store(true)
	err := p.ln.Close()
	p.conns.Range(func(c, _ any) bool {
		_ = c.(net.Conn).Close()
		return true
	})
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *Proxy) track(c net.Conn) func() {
	p.conns.Store(c, struct{}{})
	if p.closed.Load() {
		_ = c.Close()
	}
	return func() {
		p.conns.Delete(c)
		_ = c.Close()
	}
}

// serve relays one client connection, request by request, over one
// connection to the node.
func (p *Proxy) serve(client net.Conn) {
	defer p.track(client)()
	node, err := net.Dial("tcp", p.target)
	if err != nil {
		return // the client sees its connection closed, as with a dead node
	}
	defer p.track(node)()
	fromClient, fromNode := bufio.NewReader(client), bufio.NewReader(node)
	for {
		req, err := http.ReadRequest(fromClient)
		if err != nil {
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
		req.Body.Close()
		if err != nil {
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		p.requests.Add(1)
		cut := p.decide(body)
		if err := req.Write(node); err != nil {
			return
		}
		resp, err := http.ReadResponse(fromNode, req)
		if err != nil {
			return
		}
		replyBody, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return
		}
		// The node has answered. Relay the reply with its length stated, so
		// a cut one is visibly short to the client whatever framing the
		// node used.
		resp.Body = io.NopCloser(bytes.NewReader(replyBody))
		resp.ContentLength, resp.TransferEncoding = int64(len(replyBody)), nil
		var reply bytes.Buffer
		if err := resp.Write(&reply); err != nil {
			return
		}
		if cut {
			// Part of the reply, then the connection is gone.
			_, _ = client.Write(reply.Bytes()[:reply.Len()/2])
			p.cut.Add(1)
			return
		}
		if _, err := client.Write(reply.Bytes()); err != nil {
			return
		}
		if resp.Close || req.Close {
			return
		}
	}
}

// decide counts a request for the chosen method and says whether its reply
// is to be cut.
func (p *Proxy) decide(body []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.method == "" || !hasMethod(body, p.method) {
		return false
	}
	p.seen.Add(1)
	switch {
	case p.budget == All:
		return true
	case p.budget > 0:
		p.budget--
		return true
	}
	return false
}

// hasMethod reports whether a JSON-RPC request (one object, or a batch
// array) calls method.
func hasMethod(body []byte, method string) bool {
	type call struct {
		Method string `json:"method"`
	}
	var one call
	if json.Unmarshal(body, &one) == nil {
		return one.Method == method
	}
	var batch []call
	if json.Unmarshal(body, &batch) == nil {
		for _, c := range batch {
			if c.Method == method {
				return true
			}
		}
	}
	return false
}
