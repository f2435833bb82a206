package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/store"
)

// TokenPrefix starts every API token, so a leaked one is easy to recognise
// in logs and by secret scanners.
const TokenPrefix = "cat_"

// ErrUnauthorized is returned for a missing, unknown or revoked token.
var ErrUnauthorized = errors.New("missing, unknown or revoked API token")

// Tokens manages API bearer tokens (public.api_tokens).
type Tokens struct{ runner *store.Runner }

// NewTokens returns the token store.
func NewTokens(r *store.Runner) *Tokens { return &Tokens{runner: r} }

// Token describes a token; the secret itself is shown once, at creation.
type Token struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
	Scope     string // ScopeApplication or ScopeOperator
}

func hashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Create makes a new application token and returns it with its secret.
func (t *Tokens) Create(ctx context.Context, name string) (Token, string, error) {
	return t.CreateScoped(ctx, name, ScopeApplication)
}

// List returns every token, revoked ones included.
func (t *Tokens) List(ctx context.Context) ([]Token, error) {
	rows, err := t.runner.Pool().Query(ctx, `SELECT id, name, created_at, revoked_at, scope FROM public.api_tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Token])
}

// Revoke disables a token at once.
func (t *Tokens) Revoke(ctx context.Context, id int64) error {
	return t.runner.InTx(ctx, "token-revoke", func(tx *store.Tx) error {
		tag, err := tx.Exec(`UPDATE public.api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("no active token with id %d", id)
		}
		return nil
	})
}

// Authenticate returns the id of the active token with this secret.
func (t *Tokens) Authenticate(ctx context.Context, secret string) (int64, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 100 {
		return 0, ErrUnauthorized
	}
	var id int64
	err := t.runner.Pool().QueryRow(ctx, `SELECT id FROM public.api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, hashToken(secret)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrUnauthorized
	}
	return id, err
}
