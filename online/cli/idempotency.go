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

// cliReply is what is stored under a CLI idempotency key: the transfer, or
// the refusal's message.
type cliReply struct {
	Transfer *ledger.Transfer `json:"transfer,omitempty"`
	Refusal  string           `json:"refusal,omitempty"`
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

// transferOnce makes the transfer under key: the first request with the key
// moves the money (or is refused) and its result is stored in the same
// transaction; the same request again returns that result and moves
// nothing; another request with the key is refused.
func transferOnce(ctx context.Context, runner *store.Runner, l *ledger.Ledger, key string, req ledger.TransferRequest) (t ledger.Transfer, replayed bool, err error) {
	body, err := json.Marshal(struct {
		Command, Asset, From, To string
		Amount                   int64
		Memo                     string
	}{"transfer", l.Asset(), req.From, req.To, req.Amount, req.Memo})
	if err != nil {
		return t, false, err
	}
	sum := sha256.Sum256(body)
	var reply cliReply
	err = runner.InTx(ctx, "cli-transfer", func(tx *store.Tx) error {
		reply, replayed = cliReply{}, false
		var stored []byte
		var status int
		var raw []byte
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
		if _, err := tx.Exec(`SAVEPOINT transfer`); err != nil {
			return err
		}
		status = cliDone
		tr, err := l.TransferTx(tx, req)
		switch {
		case err == nil:
			reply.Transfer = &tr
		case isRefusal(err):
			if _, err := tx.Exec(`ROLLBACK TO SAVEPOINT transfer`); err != nil {
				return err
			}
			status, reply.Refusal = cliRefused, err.Error()
		default:
			return err
		}
		raw, err = json.Marshal(reply)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO public.idempotency_keys (token_id, key, request_hash, status, response) VALUES ($1, $2, $3, $4, $5)`,
			cliTokenID, key, sum[:], status, raw)
		return err
	})
	if err != nil {
		return t, false, err
	}
	if reply.Transfer == nil {
		msg := reply.Refusal
		if replayed {
			msg += " (the refusal stored under this idempotency key: use a new key for a new attempt)"
		}
		return t, replayed, errors.New(msg)
	}
	return *reply.Transfer, replayed, nil
}

// describeTransfer is the line the transfer command prints.
func describeTransfer(t ledger.Transfer, replayed bool) string {
	s := fmt.Sprintf("transfer %d: %s BTC from %s to %s", t.TxID, amount.FormatBTC(t.Amount), t.From, t.To)
	if replayed {
		s += " (already made under this idempotency key; nothing moved now)"
	}
	return s
}
