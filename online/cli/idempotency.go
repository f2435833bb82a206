package cli

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// cliTokenID is the owner of the operator's idempotency keys in
// public.idempotency_keys: API tokens start at 1, so a CLI key and an API
// key never meet.
const cliTokenID = 0

// Stored statuses of a CLI request under its key.
const (
	cliDone    = 201
	cliRefused = 422
)

// cliReply is what is stored under a CLI idempotency key: the result, or
// the refusal's message.
type cliReply[T any] struct {
	Result  *T     `json:"result,omitempty"`
	Refusal string `json:"refusal,omitempty"`
}

// errKeyReused refuses a key already used for another request.
var errKeyReused = errors.New("this idempotency key was used for a different request: use a new key for a new operation")

// checkIdempotencyKey applies the API's rules to a CLI key.
func checkIdempotencyKey(key string) error {
	if key == "" || len(key) > 255 {
		return errors.New("--idempotency-key must be 1 to 255 characters")
	}
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			return errors.New("--idempotency-key must be printable ASCII without spaces")
		}
	}
	return nil
}

// isRefusal says whether err is the ledger refusing the request itself
// (stored under the key, so the same key never moves money later), rather
// than a failure worth trying again.
func isRefusal(err error) bool {
	for _, e := range []error{ledger.ErrInsufficientFunds, ledger.ErrUnknownAccount, ledger.ErrSameAccount,
		ledger.ErrInternalAccount, ledger.ErrMemoTooLong, amount.ErrNotPositive, amount.ErrTooLarge, amount.ErrPrecision} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// runOnce runs op under the operator's idempotency key: the first request
// with the key runs (or is refused, as refused() says) and its result is
// stored in the same transaction; the same request again returns that
// result and changes nothing; another request with the key is refused.
// request is everything that identifies the operation; its JSON is hashed.
func runOnce[T any](ctx context.Context, runner *store.Runner, name, key string, request any,
	op func(tx *store.Tx) (T, error), refused func(error) bool) (result T, replayed bool, err error) {
	body, err := json.Marshal(request)
	if err != nil {
		return result, false, err
	}
	sum := sha256.Sum256(body)
	var reply cliReply[T]
	err = runner.InTx(ctx, name, func(tx *store.Tx) error {
		reply, replayed = cliReply[T]{}, false
		var stored, raw []byte
		var status int
		err := tx.QueryRow(`SELECT request_hash, status, response FROM public.idempotency_keys WHERE token_id = $1 AND key = $2`,
			cliTokenID, key).Scan(&stored, &status, &raw)
		if err == nil {
			if string(stored) != string(sum[:]) {
				return errKeyReused
			}
			replayed = true
			return json.Unmarshal(raw, &reply)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// A refusal by a CHECK aborts the statement: roll back to here and
		// still store the refusal.
		if _, err := tx.Exec(`SAVEPOINT cli_once`); err != nil {
			return err
		}
		status = cliDone
		got, err := op(tx)
		switch {
		case err == nil:
			reply.Result = &got
		case refused(err):
			if _, err := tx.Exec(`ROLLBACK TO SAVEPOINT cli_once`); err != nil {
				return err
			}
			status, reply.Refusal = cliRefused, err.Error()
		default:
			return err
		}
		if raw, err = json.Marshal(reply); err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO public.idempotency_keys (token_id, key, request_hash, status, response) VALUES ($1, $2, $3, $4, $5)`,
			cliTokenID, key, sum[:], status, raw)
		return err
	})
	if err != nil {
		return result, false, err
	}
	if reply.Result == nil {
		msg := reply.Refusal
		if replayed {
			msg += " (the refusal stored under this idempotency key: use a new key for a new attempt)"
		}
		return result, replayed, errors.New(msg)
	}
	return *reply.Result, replayed, nil
}

// transferOnce makes the transfer under key, as runOnce says.
func transferOnce(ctx context.Context, runner *store.Runner, l *ledger.Ledger, key string, req ledger.TransferRequest) (ledger.Transfer, bool, error) {
	request := struct {
		Command, Asset, From, To string
		Amount                   int64
		Memo                     string
	}{"transfer", l.Asset(), req.From, req.To, req.Amount, req.Memo}
	return runOnce(ctx, runner, "cli-transfer", key, request,
		func(tx *store.Tx) (ledger.Transfer, error) { return l.TransferTx(tx, req) }, isRefusal)
}

// describeTransfer is the line the transfer command prints.
func describeTransfer(t ledger.Transfer, replayed bool) string {
	s := fmt.Sprintf("transfer %d: %s BTC from %s to %s", t.TxID, amount.FormatBTC(t.Amount), t.From, t.To)
	if replayed {
		s += " (already made under this idempotency key; nothing moved now)"
	}
	return s
}
