// Package api is the HTTP JSON API applications use: accounts, balances,
// receive addresses, transfers and history, per asset under /v1/{asset}/.
//
// Every request carries a bearer token (created with `cryptoassets token
// create`, stored hashed, revocable). Every request that moves money must
// carry an Idempotency-Key, scoped to the token and bound to the parsed
// request: its answer (a success, or a refusal by a rule) is stored in the
// same serializable transaction as the movement, so a retried request, even
// one fired again while the first is still running, gets the first answer
// and moves money at most once. Bodies are size-limited and decoded
// strictly (exact field names, no duplicate or unknown fields, no NUL or
// invalid UTF-8, no trailing data or fractional JSON numbers). Errors are JSON with a
// stable code and a message meant for a person. docs/api.md documents each
// endpoint.
package api
