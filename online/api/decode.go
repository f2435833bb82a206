package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

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

// readJSON reads the body, checks it and decodes it strictly into v. It
// returns the request's canonical form (see canonicalJSON), which is what an
// Idempotency-Key is bound to.
func readJSON(r *http.Request, v any) ([]byte, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := decodeStrict(body, v); err != nil {
		return nil, err
	}
	return canonicalJSON(body)
}

// readOptionalJSON is readJSON for an endpoint whose body may be empty; an
// empty body is the same request as {}.
func readOptionalJSON(r *http.Request, v any) ([]byte, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(trimJSONSpace(body)) == 0 {
		return []byte("{}"), nil
	}
	if err := decodeStrict(body, v); err != nil {
		return nil, err
	}
	return canonicalJSON(body)
}

// trimJSONSpace trims the four characters JSON counts as whitespace, and
// no others (bytes.TrimSpace would also take \v, \f, U+0085 and U+00A0).
func trimJSONSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

// canonicalJSON is the body as parsed, encoded again: object keys sorted,
// no whitespace, strings escaped one way, numbers as written. Two bodies
// with the same fields and values have the same canonical form whatever
// their spacing, key order or string escapes.
func canonicalJSON(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, newError(http.StatusBadRequest, "invalid_json", "malformed JSON")
	}
	return json.Marshal(v)
}

// decodeStrict decodes one JSON object into v. Before anything is decoded,
// checkObject refuses what encoding/json would let through: keys that match
// a field only in another case, duplicate keys, NUL characters and text
// that is not UTF-8 (PostgreSQL cannot store either). Unknown fields,
// trailing data and non-objects are refused too.
func decodeStrict(body []byte, v any) error {
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		return newError(http.StatusBadRequest, "invalid_json", "the request body is empty: send a JSON object")
	}
	if trimmed[0] != '{' {
		return newError(http.StatusBadRequest, "invalid_json", "the request body must be a JSON object")
	}
	if err := checkObject(trimmed, fieldNames(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return newError(http.StatusBadRequest, "invalid_json", "trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return newError(http.StatusBadRequest, "invalid_json", "trailing data after the JSON object")
	}
	return nil
}

func jsonError(err error) *apiError {
	msg := err.Error()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
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

// checkObject walks body token by token. The top-level object's keys must
// be exactly the names in fields (when fields is not nil); no object at
// any depth may repeat a key; every string, key or value, must be UTF-8
// without NUL and without an unpaired surrogate escape (which encoding/json
// would silently turn into U+FFFD).
func checkObject(body []byte, fields map[string]bool) error {
	if !utf8.Valid(body) {
		return newError(http.StatusBadRequest, "invalid_text", "the request body is not valid UTF-8")
	}
	type frame struct {
		object    bool
		expectKey bool
		keys      map[string]bool
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		end := dec.InputOffset()
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isKey := top != nil && top.object && top.expectKey
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{object: true, expectKey: true, keys: map[string]bool{}})
			case '[':
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					if _, err := dec.Token(); err != io.EOF {
						return newError(http.StatusBadRequest, "invalid_json", "trailing data after the JSON object")
					}
					return nil
				}
				if p := stack[len(stack)-1]; p.object {
					p.expectKey = true
				}
			}
			continue
		case string:
			raw := body[start:end]
			raw = raw[bytes.IndexByte(raw, '"'):]
			if err := checkText(t, raw); err != nil {
				what := "a string value"
				if isKey {
					what = "a field name"
				}
				return newError(http.StatusBadRequest, "invalid_text", what+" "+err.Error())
			}
			if isKey {
				if top.keys[t] {
					return newError(http.StatusBadRequest, "invalid_json", fmt.Sprintf("duplicate field %q: give each field once", t))
				}
				top.keys[t] = true
				top.expectKey = false
				if len(stack) == 1 && fields != nil && !fields[t] {
					return unknownField(t, fields)
				}
				continue
			}
		}
		if top == nil {
			return newError(http.StatusBadRequest, "invalid_json", "the request body must be a JSON object")
		}
		if top.object {
			top.expectKey = true
		}
	}
}

func unknownField(name string, fields map[string]bool) error {
	for f := range fields {
		if strings.EqualFold(f, name) {
			return newError(http.StatusBadRequest, "invalid_json", fmt.Sprintf("unknown field %q: field names are case-sensitive, did you mean %q?", name, f))
		}
	}
	return newError(http.StatusBadRequest, "invalid_json", fmt.Sprintf("unknown field %q: see docs/api.md for the fields this endpoint takes", name))
}

// checkText refuses a NUL character and an unpaired UTF-16 surrogate
// escape in a JSON string; raw is the string as written, quotes included.
func checkText(decoded string, raw []byte) error {
	if strings.IndexByte(decoded, 0) >= 0 {
		return errors.New("contains a NUL character (\\u0000), which the service does not store")
	}
	for i := 1; i < len(raw)-1; i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if raw[i] != 'u' || i+4 >= len(raw) {
			continue
		}
		r, _ := strconv.ParseUint(string(raw[i+1:i+5]), 16, 32)
		i += 4
		switch {
		case r >= 0xDC00 && r < 0xE000:
			return errors.New("contains an unpaired UTF-16 surrogate escape: not valid Unicode text")
		case r >= 0xD800 && r < 0xDC00:
			if i+6 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return errors.New("contains an unpaired UTF-16 surrogate escape: not valid Unicode text")
			}
			lo, _ := strconv.ParseUint(string(raw[i+3:i+7]), 16, 32)
			if lo < 0xDC00 || lo >= 0xE000 {
				return errors.New("contains an unpaired UTF-16 surrogate escape: not valid Unicode text")
			}
			i += 6
		}
	}
	return nil
}

// fieldNames lists the JSON names of v's struct fields (embedded structs
// included), or nil when v is not a struct.
func fieldNames(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if tag == "-" {
				continue
			}
			if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if tag == "" {
				tag = f.Name
			}
			out[tag] = true
		}
	}
	walk(t)
	return out
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
