package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/addresses"
	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// AddressIssuer hands out receive addresses; addresses.Issuer implements
// it. NewAddressTx runs inside the caller's transaction.
type AddressIssuer interface {
	NewAddressTx(tx *store.Tx, account, label string) (addresses.Address, error)
}

// Asset is what the API serves for one asset.
type Asset struct {
	Ledger    *ledger.Ledger
	Addresses AddressIssuer // nil: the address endpoint answers 501
	// Withdrawals is nil when withdrawals are not enabled (answers 501).
	Withdrawals *withdrawals.Service
}

// Server serves the API.
type Server struct {
	runner *store.Runner
	tokens *Tokens
	assets map[string]Asset
	log    *slog.Logger
	ops    Ops
}

// NewServer returns a server for the given assets (keyed by schema name).
func NewServer(runner *store.Runner, assets map[string]Asset, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{runner: runner, tokens: NewTokens(runner), assets: assets, log: log}
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", s.health)
	mux.Handle("POST /v1/{asset}/accounts", s.auth(s.createAccount))
	mux.Handle("GET /v1/{asset}/accounts", s.auth(s.listAccounts))
	mux.Handle("GET /v1/{asset}/accounts/{name}", s.auth(s.getAccount))
	mux.Handle("GET /v1/{asset}/accounts/{name}/history", s.auth(s.history))
	mux.Handle("POST /v1/{asset}/accounts/{name}/addresses", s.auth(s.newAddress))
	mux.Handle("POST /v1/{asset}/transfers", s.auth(s.transfer))
	mux.Handle("POST /v1/{asset}/withdrawals", s.auth(s.requestWithdrawal))
	mux.Handle("GET /v1/{asset}/withdrawals", s.auth(s.listWithdrawals))
	mux.Handle("GET /v1/{asset}/withdrawals/{id}", s.auth(s.getWithdrawal))
	mux.Handle("DELETE /v1/{asset}/withdrawals/{id}", s.auth(s.cancelWithdrawal))
	mux.Handle("POST /v1/{asset}/withdrawals/{id}/approve", s.auth(s.approveWithdrawal))
	mux.Handle("POST /v1/{asset}/withdrawals/{id}/reject", s.auth(s.rejectWithdrawal))
	mux.Handle("GET /v1/events", s.authOnly(s.listEvents))
	mux.Handle("POST /v1/events/ack", s.authOnly(s.ackEvents))
	s.opsRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeRaw(w, http.StatusNotFound, errorJSON(newError(http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path+" (see docs/api.md)")))
	})
	return s.instrument(refuseBadText(mux))
}

// refuseBadText answers 400 invalid_text, before any route or the database,
// to a request whose path or query, once unescaped, holds a NUL character
// or is not UTF-8: PostgreSQL can store neither.
func refuseBadText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := !cleanText(r.URL.Path)
		for k, vs := range r.URL.Query() {
			bad = bad || !cleanText(k)
			for _, v := range vs {
				bad = bad || !cleanText(v)
			}
		}
		if bad {
			writeRaw(w, http.StatusBadRequest, errorJSON(newError(http.StatusBadRequest, "invalid_text",
				"the path or query holds a NUL character (%00) or bytes that are not UTF-8")))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func cleanText(s string) bool { return strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) }

type request struct {
	w       http.ResponseWriter
	r       *http.Request
	tokenID int64
	asset   Asset
}

type handler func(req *request) error

// authenticate checks the bearer token, answering the client itself when
// it is refused.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (int64, bool) {
	secret, ok := cutBearer(r)
	if !ok {
		s.fail(w, r, ErrUnauthorized)
		return 0, false
	}
	id, err := s.tokens.Authenticate(r.Context(), secret)
	if err != nil {
		s.fail(w, r, err)
		return 0, false
	}
	return id, true
}

// auth checks the bearer token and the asset, then runs h.
func (s *Server) auth(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		name := r.PathValue("asset")
		a, ok := s.assets[name]
		if !ok {
			s.fail(w, r, newError(http.StatusNotFound, "unknown_asset", "unknown asset "+strconv.Quote(truncate(name, 32))+": this service handles "+strings.Join(s.assetNames(), ", ")))
			return
		}
		if err := h(&request{w: w, r: r, tokenID: id, asset: a}); err != nil {
			s.fail(w, r, err)
		}
	})
}

func cutBearer(r *http.Request) (string, bool) {
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(secret), ok
}

func (s *Server) assetNames() []string {
	var out []string
	for n := range s.assets {
		out = append(out, n)
	}
	return out
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.runner.Pool().Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "1")
		writeRaw(w, http.StatusServiceUnavailable, errorJSON(newError(http.StatusServiceUnavailable, "database_unavailable", "the database does not answer")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// idempotencyKey reads the Idempotency-Key header.
func idempotencyKey(r *http.Request, required bool) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		if required {
			return "", newError(http.StatusBadRequest, "missing_idempotency_key", "this request moves money: send an Idempotency-Key header (a unique string per operation, e.g. a UUID) so a retry can never move it twice")
		}
		return "", nil
	}
	if len(key) > 255 {
		return "", newError(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key longer than 255 characters")
	}
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			return "", newError(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be printable ASCII without spaces")
		}
	}
	return key, nil
}

// mutate runs op in one serializable transaction. With an Idempotency-Key
// (scoped to the token) the answer is stored in that same transaction,
// bound to the request's method, path and canonical body, and a request
// repeating the key gets the stored answer: a concurrent duplicate
// conflicts, retries, and then finds it. A refusal by a rule of the
// service (storedRefusal) is an answer too: it is stored, after the
// transaction is rolled back to before op, so that key can never move
// money later. Anything else that fails (a 5xx, a database outage) stores
// nothing, so a retry can succeed.
func (s *Server) mutate(req *request, name string, key string, canonical []byte, op func(tx *store.Tx) (int, any, error)) error {
	h := sha256.New()
	h.Write([]byte(req.r.Method + " " + req.r.URL.Path + "\n"))
	h.Write(canonical)
	reqHash := h.Sum(nil)

	var status int
	var out []byte
	var replayed bool
	err := s.runner.InTx(req.r.Context(), name, func(tx *store.Tx) error {
		replayed = false
		if key == "" {
			st, v, err := op(tx)
			if err != nil {
				return err
			}
			status = st
			out, err = json.Marshal(v)
			return err
		}
		var storedHash []byte
		err := tx.QueryRow(`SELECT request_hash, status, response FROM public.idempotency_keys WHERE token_id = $1 AND key = $2`,
			req.tokenID, key).Scan(&storedHash, &status, &out)
		if err == nil {
			if !bytes.Equal(storedHash, reqHash) {
				return newError(http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used for a different request: use a new key for a new operation")
			}
			replayed = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// A refusal may come from a failed statement, which aborts the
		// transaction: roll back to here and still store it.
		if _, err := tx.Exec(`SAVEPOINT request`); err != nil {
			return err
		}
		st, v, err := op(tx)
		if err != nil {
			ae := storedRefusal(err)
			if ae == nil {
				return err
			}
			if _, err := tx.Exec(`ROLLBACK TO SAVEPOINT request`); err != nil {
				return err
			}
			st, out = ae.Status, errorJSON(ae)
		} else if out, err = json.Marshal(v); err != nil {
			return err
		}
		status = st
		_, err = tx.Exec(`INSERT INTO public.idempotency_keys (token_id, key, request_hash, status, response) VALUES ($1, $2, $3, $4, $5)`,
			req.tokenID, key, reqHash, status, out)
		return err
	})
	if err != nil {
		return err
	}
	if replayed {
		req.w.Header().Set("Idempotent-Replayed", "true")
	}
	writeRaw(req.w, status, out)
	return nil
}

// storedRefusal returns the answer to store under an Idempotency-Key for an
// error of op: a refusal by one of the service's rules (a 4xx: insufficient
// funds, unknown account, a bad amount, …). It returns nil for failures a
// retry may get past (5xx, 503, a rate limit) and for those that say nothing
// about the request (401).
func storedRefusal(err error) *apiError {
	ae := classify(err)
	if ae == nil || ae.Status < 400 || ae.Status >= 500 {
		return nil
	}
	switch ae.Status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return nil
	}
	return ae
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
