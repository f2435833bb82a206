package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/cryptoassets/cryptoassets/online/events"
)

// authOnly checks the bearer token for endpoints that are not per asset.
func (s *Server) authOnly(h func(w http.ResponseWriter, r *http.Request, tokenID int64) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if err := h(w, r, id); err != nil {
			s.fail(w, r, err)
		}
	})
}

// listEvents is GET /v1/events?after=ID&limit=N. Without after, it starts
// after the last event this token acknowledged.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, tokenID int64) error {
	after, limit, err := pageParams(r, "after")
	if err != nil {
		return err
	}
	if r.URL.Query().Get("after") == "" {
		if after, err = events.Acked(r.Context(), s.runner.Pool(), tokenID); err != nil {
			return err
		}
	}
	evs, err := events.List(r.Context(), s.runner.Pool(), after, limit)
	if err != nil {
		return err
	}
	out := struct {
		Events    []json.RawMessage `json:"events"`
		NextAfter int64             `json:"next_after"`
	}{Events: []json.RawMessage{}, NextAfter: after}
	for _, e := range evs {
		out.Events = append(out.Events, e.Payload)
		out.NextAfter = e.ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ackEvents is POST /v1/events/ack {"up_to": ID}.
func (s *Server) ackEvents(w http.ResponseWriter, r *http.Request, tokenID int64) error {
	var in struct {
		UpTo json.Number `json:"up_to"`
	}
	if _, err := readJSON(r, &in); err != nil {
		return err
	}
	upTo, err := in.UpTo.Int64()
	if err != nil || upTo < 0 {
		return newError(http.StatusBadRequest, "invalid_request", `"up_to" must be the id (a whole number) of the last event you processed`)
	}
	if err := events.Ack(r.Context(), s.runner, tokenID, upTo); err != nil {
		if errors.Is(err, events.ErrBeyondNewest) {
			return newError(http.StatusUnprocessableEntity, "ack_beyond_newest", err.Error()+`: acknowledge the "next_after" of a page you read`)
		}
		return err
	}
	acked, err := events.Acked(r.Context(), s.runner.Pool(), tokenID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"acked_up_to": acked})
	return nil
}
