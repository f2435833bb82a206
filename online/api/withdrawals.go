package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/online/withdrawals"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

type withdrawalJSON struct {
	ID         int64   `json:"id"`
	Account    string  `json:"account"`
	Address    string  `json:"address"`
	Amount     string  `json:"amount"`
	AmountSat  string  `json:"amount_sat"`
	Fee        string  `json:"fee"`
	FeeSat     string  `json:"fee_sat"`
	State      string  `json:"state"`
	Internal   bool    `json:"internal"`
	InternalTo *string `json:"internal_to"`
	BatchID    *int64  `json:"batch_id"`
	// TxID and Vout: the output that pays it, once batched (null before);
	// BlockHeight and Confirmations once mined (null and 0 before).
	TxID          *string   `json:"txid"`
	Vout          *uint32   `json:"vout"`
	BlockHeight   *int32    `json:"block_height"`
	Confirmations int32     `json:"confirmations"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// withdrawalOut is the JSON of a withdrawal and, when it is batched, of
// the output that pays it (p nil: not in a batch).
func withdrawalOut(w withdrawals.Withdrawal, p *withdrawals.Payment) withdrawalJSON {
	out := withdrawalJSON{
		ID: w.ID, Account: w.Account, Address: w.Address, State: w.State, Internal: w.Internal, BatchID: w.BatchID,
		Amount: amount.FormatBTC(w.Amount), AmountSat: strconv.FormatInt(w.Amount, 10),
		Fee: amount.FormatBTC(w.Fee), FeeSat: strconv.FormatInt(w.Fee, 10),
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	if w.Internal {
		out.InternalTo = &w.InternalTo
	}
	// The payment is read apart from the row: shown only when it is of the
	// batch the row names, so a withdrawal requeued or re-batched between
	// the two reads never shows another batch's output.
	if p != nil && w.BatchID != nil && *w.BatchID == p.BatchID {
		txid, vout := p.TxID.String(), p.Vout
		out.TxID, out.Vout, out.BlockHeight, out.Confirmations = &txid, &vout, p.BlockHeight, p.Confirmations
	}
	return out
}

// withdrawalError maps the withdrawal package's refusals to API errors; the
// ledger's (insufficient funds, unknown account) go through classify.
func withdrawalError(err error) error {
	for _, m := range []struct {
		err    error
		status int
		code   string
	}{
		{withdrawals.ErrInvalidAddress, http.StatusBadRequest, "invalid_address"},
		{withdrawals.ErrWrongNetwork, http.StatusBadRequest, "wrong_network"},
		{withdrawals.ErrUnsupportedAddress, http.StatusBadRequest, "unsupported_address"},
		{withdrawals.ErrDust, http.StatusUnprocessableEntity, "amount_below_dust"},
		{withdrawals.ErrOwnAddress, http.StatusUnprocessableEntity, "own_address"},
		{withdrawals.ErrUnknownWithdrawal, http.StatusNotFound, "unknown_withdrawal"},
		{withdrawals.ErrNotCancellable, http.StatusConflict, "not_cancellable"},
		{withdrawals.ErrKeyReused, http.StatusUnprocessableEntity, "idempotency_key_reused"},
		{withdrawals.ErrLimitMaxWithdrawal, http.StatusUnprocessableEntity, "limit_max_withdrawal"},
		{withdrawals.ErrLimitAccountCount, http.StatusUnprocessableEntity, "limit_account_count"},
		{withdrawals.ErrLimitAccountAmount, http.StatusUnprocessableEntity, "limit_account_amount"},
		{withdrawals.ErrLimitHotOutflow, http.StatusUnprocessableEntity, "limit_hot_outflow"},
		{withdrawals.ErrPaused, http.StatusUnprocessableEntity, "withdrawals_paused"},
		{withdrawals.ErrNotAwaiting, http.StatusConflict, "not_awaiting_approval"},
		{withdrawals.ErrOwnRequest, http.StatusForbidden, "own_request"},
		{withdrawals.ErrAlreadyDecided, http.StatusConflict, "already_decided"},
	} {
		if errors.Is(err, m.err) {
			return newError(m.status, m.code, err.Error())
		}
	}
	return err
}

func (req *request) withdrawals() (*withdrawals.Service, error) {
	if req.asset.Withdrawals == nil {
		return nil, newError(http.StatusNotImplemented, "withdrawals_not_configured", "withdrawals are not enabled for this asset")
	}
	return req.asset.Withdrawals, nil
}

func withdrawalID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, newError(http.StatusBadRequest, "invalid_parameter", "the withdrawal id must be a positive integer")
	}
	return id, nil
}

func (s *Server) requestWithdrawal(req *request) error {
	svc, err := req.withdrawals()
	if err != nil {
		return err
	}
	key, err := idempotencyKey(req.r, true)
	if err != nil {
		return err
	}
	var in struct {
		Account string `json:"account"`
		Address string `json:"address"`
		amountFields
	}
	body, err := readJSON(req.r, &in)
	if err != nil {
		return err
	}
	// The rules are checked inside mutate, so their refusal is stored
	// under the key like any other answer. A breach of the hourly outflow
	// trips the circuit breaker afterwards, in its own transaction.
	var breach error
	err = s.mutate(req, "api-withdrawal", key, body, func(tx *store.Tx) (int, any, error) {
		if in.Account == "" || in.Address == "" {
			return 0, nil, newError(http.StatusBadRequest, "invalid_request", `"account" names the customer account to pay from and "address" the destination`)
		}
		sat, err := in.satoshis()
		if err != nil {
			return 0, nil, err
		}
		if _, err := svc.Check(in.Address, sat); err != nil {
			return 0, nil, withdrawalError(err)
		}
		w, err := svc.RequestTx(tx, withdrawals.Request{Account: in.Account, Address: in.Address, Amount: sat, TokenID: req.tokenID, IdempotencyKey: key})
		if breach = err; err != nil {
			return 0, nil, withdrawalError(err) // mapped here, so mutate stores the refusal
		}
		return http.StatusCreated, withdrawalOut(w, nil), nil // not batched yet
	})
	if tripErr := svc.TripOnBreach(req.r.Context(), breach); tripErr != nil {
		return tripErr
	}
	return withdrawalError(err)
}

func (s *Server) getWithdrawal(req *request) error {
	svc, err := req.withdrawals()
	if err != nil {
		return err
	}
	id, err := withdrawalID(req.r)
	if err != nil {
		return err
	}
	w, err := svc.Get(req.r.Context(), id)
	if err != nil {
		return withdrawalError(err)
	}
	p, err := svc.Payment(req.r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(req.w, http.StatusOK, withdrawalOut(w, p))
	return nil
}

func (s *Server) listWithdrawals(req *request) error {
	svc, err := req.withdrawals()
	if err != nil {
		return err
	}
	after, limit, err := pageParams(req.r, "after")
	if err != nil {
		return err
	}
	ws, err := svc.List(req.r.Context(), after, limit)
	if err != nil {
		return err
	}
	out := struct {
		Withdrawals []withdrawalJSON `json:"withdrawals"`
		NextAfter   *int64           `json:"next_after"`
	}{Withdrawals: []withdrawalJSON{}}
	ids := make([]int64, len(ws))
	for i, w := range ws {
		ids[i] = w.ID
	}
	ps, err := svc.Payments(req.r.Context(), ids)
	if err != nil {
		return err
	}
	for _, w := range ws {
		var p *withdrawals.Payment
		if v, ok := ps[w.ID]; ok {
			p = &v
		}
		out.Withdrawals = append(out.Withdrawals, withdrawalOut(w, p))
	}
	if len(ws) == limit {
		out.NextAfter = &ws[len(ws)-1].ID
	}
	writeJSON(req.w, http.StatusOK, out)
	return nil
}

func (s *Server) cancelWithdrawal(req *request) error {
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
	err = s.mutate(req, "api-withdrawal-cancel", key, nil, func(tx *store.Tx) (int, any, error) {
		w, err := svc.CancelTx(tx, id)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, withdrawalOut(w, nil), nil // cancelled: never batched
	})
	return withdrawalError(err)
}
