package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/cryptoassets/cryptoassets/shared/amount"
)

// MaxBodySize bounds every request body.
const MaxBodySize = 64 << 10

// readBody reads a JSON request body within MaxBodySize.
func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as Content-Type: application/json")
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodySize+1))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "invalid_json", "reading the request body failed")
	}
	if len(body) > MaxBodySize {
		return nil, newError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body over %d bytes", MaxBodySize))
	}
	return body, nil
}

// readJSON reads the body and decodes it strictly into v, returning the raw
// body (the idempotency hash covers it).
func readJSON(r *http.Request, v any) ([]byte, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return body, decodeStrict(body, v)
}

// decodeStrict decodes one JSON object into v, refusing unknown fields,
// duplicate-looking trailing data and non-objects.
func decodeStrict(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return newError(http.StatusBadRequest, "invalid_json", "the request body is empty: send a JSON object")
	}
	if trimmed[0] != '{' {
		return newError(http.StatusBadRequest, "invalid_json", "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			msg = "malformed JSON: the body ends before the object does"
		case errors.As(err, &se):
			msg = fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			msg = fmt.Sprintf("field %q must be a %s, not a JSON %s", te.Field, jsonKind(te.Type.String()), te.Value)
		case strings.HasPrefix(msg, "json: unknown field "):
			msg = "unknown field " + strings.TrimPrefix(msg, "json: unknown field ") + ": see docs/api.md for the fields this endpoint takes"
		}
		return newError(http.StatusBadRequest, "invalid_json", msg)
	}
	if dec.More() {
		return newError(http.StatusBadRequest, "invalid_json", "trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return newError(http.StatusBadRequest, "invalid_json", "trailing data after the JSON object")
	}
	return nil
}

func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "string"
	case "int64", "int", "json.Number":
		return "number"
	}
	return goType
}

// amountFields are the two ways a request gives an amount: "amount", a
// string of BTC with up to 8 decimals, or "amount_sat", a whole number of
// satoshis (a JSON integer or a string of digits). Exactly one is allowed.
type amountFields struct {
	Amount    json.RawMessage `json:"amount"`
	AmountSat json.RawMessage `json:"amount_sat"`
}

func (a amountFields) satoshis() (int64, error) {
	hasBTC, hasSat := len(a.Amount) > 0 && string(a.Amount) != "null", len(a.AmountSat) > 0 && string(a.AmountSat) != "null"
	switch {
	case hasBTC && hasSat:
		return 0, newError(http.StatusBadRequest, "invalid_amount", `give either "amount" (BTC as a string) or "amount_sat" (satoshis), not both`)
	case !hasBTC && !hasSat:
		return 0, newError(http.StatusBadRequest, "invalid_amount", `missing amount: give "amount" (BTC as a string, e.g. "0.015") or "amount_sat" (satoshis, e.g. 1500000)`)
	case hasBTC:
		var s string
		if err := json.Unmarshal(a.Amount, &s); err != nil {
			return 0, newError(http.StatusBadRequest, "invalid_amount", `"amount" must be a string of BTC like "0.015" (JSON numbers lose precision); use "amount_sat" for an integer of satoshis`)
		}
		return amount.ParseBTC(s)
	default:
		raw := string(a.AmountSat)
		if strings.HasPrefix(raw, `"`) {
			var s string
			if err := json.Unmarshal(a.AmountSat, &s); err != nil {
				return 0, newError(http.StatusBadRequest, "invalid_amount", `"amount_sat" must be a whole number of satoshis`)
			}
			raw = s
		}
		if strings.ContainsAny(raw, ".eE") {
			return 0, newError(http.StatusBadRequest, "invalid_amount", fmt.Sprintf(`"amount_sat" must be a whole number of satoshis, not %s`, raw))
		}
		return amount.ParseSat(raw)
	}
}
