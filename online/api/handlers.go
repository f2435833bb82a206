package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

type accountJSON struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Kind         string    `json:"kind"`
	Available    string    `json:"available"`
	AvailableSat string    `json:"available_sat"`
	Pending      string    `json:"pending"`
	PendingSat   string    `json:"pending_sat"`
	CreatedAt    time.Time `json:"created_at"`
}

func accountOut(a ledger.Account) accountJSON {
	return accountJSON{
		ID: a.ID, Name: a.Name, Kind: a.Kind, CreatedAt: a.CreatedAt,
		Available: amount.FormatBTC(a.Available), AvailableSat: strconv.FormatInt(a.Available, 10),
		Pending: amount.FormatBTC(a.Pending), PendingSat: strconv.FormatInt(a.Pending, 10),
	}
}

func (s *Server) createAccount(req *request) error {
	key, err := idempotencyKey(req.r, false)
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	body, err := readJSON(req.r, &in)
	if err != nil {
		return err
	}
	return s.mutate(req, "api-create-account", key, body, func(tx *store.Tx) (int, any, error) {
		if err := ledger.ValidateName(in.Name); err != nil {
			return 0, nil, err
		}
		a, err := req.asset.Ledger.CreateAccountTx(tx, in.Name)
		return http.StatusCreated, accountOut(a), err
	})
}

func (s *Server) getAccount(req *request) error {
	a, err := req.asset.Ledger.GetAccount(req.r.Context(), req.r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(req.w, http.StatusOK, accountOut(a))
	return nil
}

// pageParams reads a cursor and a limit from the query string.
func pageParams(r *http.Request, cursor string) (int64, int, error) {
	q := r.URL.Query()
	var c int64
	if v := q.Get(cursor); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, newError(http.StatusBadRequest, "invalid_parameter", cursor+" must be a non-negative integer from a previous page")
		}
		c = n
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, 0, newError(http.StatusBadRequest, "invalid_parameter", "limit must be an integer from 1 to 1000")
		}
		limit = n
	}
	return c, limit, nil
}

func (s *Server) listAccounts(req *request) error {
	after, limit, err := pageParams(req.r, "after")
	if err != nil {
		return err
	}
	accts, err := req.asset.Ledger.ListAccounts(req.r.Context(), after, limit)
	if err != nil {
		return err
	}
	out := struct {
		Accounts  []accountJSON `json:"accounts"`
		NextAfter *int64        `json:"next_after"`
	}{Accounts: []accountJSON{}}
	for _, a := range accts {
		out.Accounts = append(out.Accounts, accountOut(a))
	}
	if len(accts) == limit {
		out.NextAfter = &accts[len(accts)-1].ID
	}
	writeJSON(req.w, http.StatusOK, out)
	return nil
}

type entryJSON struct {
	ID                int64     `json:"id"`
	TxID              int64     `json:"tx_id"`
	Kind              string    `json:"kind"`
	Memo              string    `json:"memo"`
	AvailableDelta    string    `json:"available_delta"`
	AvailableDeltaSat string    `json:"available_delta_sat"`
	PendingDelta      string    `json:"pending_delta"`
	PendingDeltaSat   string    `json:"pending_delta_sat"`
	Counterparties    []string  `json:"counterparties"`
	CreatedAt         time.Time `json:"created_at"`
}

func (s *Server) history(req *request) error {
	before, limit, err := pageParams(req.r, "before")
	if err != nil {
		return err
	}
	entries, err := req.asset.Ledger.History(req.r.Context(), req.r.PathValue("name"), before, limit)
	if err != nil {
		return err
	}
	out := struct {
		Entries    []entryJSON `json:"entries"`
		NextBefore *int64      `json:"next_before"`
	}{Entries: []entryJSON{}}
	for _, e := range entries {
		out.Entries = append(out.Entries, entryJSON{
			ID: e.ID, TxID: e.TxID, Kind: e.Kind, Memo: e.Memo, Counterparties: e.Counterparties, CreatedAt: e.CreatedAt,
			AvailableDelta: amount.FormatBTC(e.Available), AvailableDeltaSat: strconv.FormatInt(e.Available, 10),
			PendingDelta: amount.FormatBTC(e.Pending), PendingDeltaSat: strconv.FormatInt(e.Pending, 10),
		})
	}
	if len(entries) == limit {
		out.NextBefore = &entries[len(entries)-1].ID
	}
	writeJSON(req.w, http.StatusOK, out)
	return nil
}

type transferJSON struct {
	ID        int64     `json:"id"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Amount    string    `json:"amount"`
	AmountSat string    `json:"amount_sat"`
	Memo      string    `json:"memo"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) transfer(req *request) error {
	key, err := idempotencyKey(req.r, true)
	if err != nil {
		return err
	}
	var in struct {
		From string `json:"from"`
		To   string `json:"to"`
		Memo string `json:"memo"`
		amountFields
	}
	body, err := readJSON(req.r, &in)
	if err != nil {
		return err
	}
	// The rules are checked inside mutate, so their refusal is stored
	// under the key like any other answer.
	return s.mutate(req, "api-transfer", key, body, func(tx *store.Tx) (int, any, error) {
		if in.From == "" || in.To == "" {
			return 0, nil, newError(http.StatusBadRequest, "invalid_request", `"from" and "to" name the two customer accounts`)
		}
		sat, err := in.satoshis()
		if err != nil {
			return 0, nil, err
		}
		t, err := req.asset.Ledger.TransferTx(tx, ledger.TransferRequest{From: in.From, To: in.To, Amount: sat, Memo: in.Memo})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, transferJSON{ID: t.TxID, From: t.From, To: t.To, Memo: t.Memo, CreatedAt: t.CreatedAt,
			Amount: amount.FormatBTC(t.Amount), AmountSat: strconv.FormatInt(t.Amount, 10)}, nil
	})
}

func (s *Server) newAddress(req *request) error {
	if req.asset.Addresses == nil {
		return newError(http.StatusNotImplemented, "addresses_not_configured", "no hot-wallet key is configured for this asset: set assets.NAME.hot_wallet_descriptor")
	}
	key, err := idempotencyKey(req.r, false)
	if err != nil {
		return err
	}
	var in struct {
		Label string `json:"label"`
	}
	body, err := readOptionalJSON(req.r, &in)
	if err != nil {
		return err
	}
	account := req.r.PathValue("name")
	return s.mutate(req, "api-new-address", key, body, func(tx *store.Tx) (int, any, error) {
		if len(in.Label) > 200 {
			return 0, nil, newError(http.StatusBadRequest, "invalid_label", "label longer than 200 characters")
		}
		a, err := req.asset.Addresses.NewAddressTx(tx, account, in.Label)
		return http.StatusCreated, a, err
	})
}
