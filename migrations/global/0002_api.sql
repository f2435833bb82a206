-- Bearer tokens of the HTTP API. Only a SHA-256 of each token is stored: the
-- tokens are 256-bit random strings, so a slow hash would add nothing.
CREATE TABLE api_tokens (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Results of requests that carried an Idempotency-Key, written in the same
-- transaction as the change they made, so a retried request returns the same
-- answer and never moves money twice. token_id 0 is the operator's CLI.
CREATE TABLE idempotency_keys (
    token_id     bigint NOT NULL CHECK (token_id >= 0),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL CHECK (length(request_hash) = 32),
    status       integer NOT NULL,
    response     bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, key)
);
