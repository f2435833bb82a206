package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cryptoassets/cryptoassets/online/ledger"
	"github.com/cryptoassets/cryptoassets/online/store"
	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// apiError is an error with its HTTP status and stable code.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// classify maps an error from the packages below to what the client sees.
// Anything unexpected is a 500 whose details go to the log, not the client.
func classify(err error) *apiError {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return newError(http.StatusUnprocessableEntity, "insufficient_funds", err.Error())
	case errors.Is(err, ledger.ErrUnknownAccount):
		return newError(http.StatusNotFound, "unknown_account", err.Error())
	case errors.Is(err, ledger.ErrAccountExists):
		return newError(http.StatusConflict, "account_exists", err.Error())
	case errors.Is(err, ledger.ErrInvalidName):
		return newError(http.StatusBadRequest, "invalid_account_name", err.Error())
	case errors.Is(err, ledger.ErrSameAccount):
		return newError(http.StatusUnprocessableEntity, "same_account", err.Error())
	case errors.Is(err, ledger.ErrInternalAccount):
		return newError(http.StatusUnprocessableEntity, "internal_account", err.Error())
	case errors.Is(err, ledger.ErrMemoTooLong):
		return newError(http.StatusBadRequest, "invalid_memo", err.Error())
	case errors.Is(err, amount.ErrNotPositive), errors.Is(err, amount.ErrTooLarge),
		errors.Is(err, amount.ErrPrecision), errors.Is(err, amount.ErrSyntax):
		return newError(http.StatusBadRequest, "invalid_amount", err.Error())
	case errors.Is(err, ErrUnauthorized):
		return newError(http.StatusUnauthorized, "unauthorized", "missing, unknown or revoked API token: send Authorization: Bearer cat_…")
	case store.IsUnavailable(err):
		return newError(http.StatusServiceUnavailable, "database_unavailable", "the database is unavailable; retry the request with the same Idempotency-Key after the Retry-After delay")
	case errors.Is(err, store.ErrConflictUnresolved):
		return newError(http.StatusServiceUnavailable, "busy", "the database could not resolve concurrent updates in time; retry the request with the same Idempotency-Key")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encoding the response failed"}}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func errorJSON(e *apiError) []byte {
	var b errorBody
	b.Error.Code, b.Error.Message = e.Code, e.Message
	out, _ := json.Marshal(b)
	return out
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae := classify(err)
	if ae == nil {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = newError(http.StatusInternalServerError, "internal", "internal error; it has been logged")
	}
	if ae.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeRaw(w, ae.Status, errorJSON(ae))
}
