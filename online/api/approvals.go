package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
)

// Token scopes: application tokens request and read; operator tokens may
// also approve or reject withdrawals awaiting approval.
const (
	ScopeApplication = "application"
	ScopeOperator    = "operator"
)

// CreateScoped makes a new token of the scope and returns it with its secret.
func (t *Tokens) CreateScoped(ctx context.Context, name, scope string) (Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return Token{}, "", errors.New("token name: want 1 to 100 characters saying who uses it")
	}
	if scope != ScopeApplication && scope != ScopeOperator {
		return Token{}, "", fmt.Errorf("token scope %q: want %s or %s", scope, ScopeApplication, ScopeOperator)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Token{}, "", err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	tok := Token{Name: name, Scope: scope}
	err := t.runner.InTx(ctx, "token-create", func(tx *store.Tx) error {
		return tx.QueryRow(`INSERT INTO public.api_tokens (name, token_hash, scope) VALUES ($1, $2, $3) RETURNING id, created_at`,
			name, hashToken(secret), scope).Scan(&tok.ID, &tok.CreatedAt)
	})
	return tok, secret, err
}

// operator is the name of the token when it is an operator token; an
// application token is refused with 403.
func operator(tx *store.Tx, tokenID int64) (string, error) {
	var name, scope string
	err := tx.QueryRow(`SELECT name, scope FROM public.api_tokens WHERE id = $1 AND revoked_at IS NULL`, tokenID).Scan(&name, &scope)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrUnauthorized
	}
	if err != nil {
		return "", err
	}
	if scope != ScopeOperator {
		return "", newError(http.StatusForbidden, "operator_token_required",
			"approving or rejecting a withdrawal needs an operator token (cryptoassets tokens create --scope operator); this is an application token")
	}
	return name, nil
}

type decisionJSON struct {
	withdrawalJSON
	Approvals         int `json:"approvals"`
	ApprovalsRequired int `json:"approvals_required"`
}

func (s *Server) approveWithdrawal(req *request) error { return s.decideWithdrawal(req, true) }
func (s *Server) rejectWithdrawal(req *request) error  { return s.decideWithdrawal(req, false) }

// decideWithdrawal records an operator token's approval or rejection.
func (s *Server) decideWithdrawal(req *request, approve bool) error {
	svc, err := req.withdrawals()
	if err != nil {
		return err
	}
	id, err := withdrawalID(req.r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(req.r, false)
	if err != nil {
		return err
	}
	name := "api-withdrawal-reject"
	if approve {
		name = "api-withdrawal-approve"
	}
	err = s.mutate(req, name, key, nil, func(tx *store.Tx) (int, any, error) {
		op, err := operator(tx, req.tokenID)
		if err != nil {
			return 0, nil, err
		}
		by := withdrawals.Decider{Operator: op, TokenID: req.tokenID}
		var d withdrawals.Decision
		if approve {
			d, err = svc.ApproveTx(tx, id, by)
		} else {
			d, err = svc.RejectTx(tx, id, by)
		}
		if err != nil {
			return 0, nil, withdrawalError(err)
		}
		return http.StatusOK, decisionJSON{withdrawalOut(d.Withdrawal, nil), d.Approvals, d.Required}, nil
	})
	return withdrawalError(err)
}
