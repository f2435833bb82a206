-- Every signed transaction the service sends to the network. The row, with
-- the exact bytes and the txid, is written (opened_at) before the node is
-- asked, and closed (closed_at, outcome) after it answers. A row left open is
-- a broadcast whose outcome is unknown: it is resolved by looking the txid up
-- and, if the node does not have it, sending the same bytes again; never by
-- signing something new for the same coins.
CREATE TABLE broadcasts (
    id         bigserial PRIMARY KEY,
    txid       bytea NOT NULL UNIQUE CHECK (length(txid) = 32),
    raw_tx     bytea NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('cold_topup')),
    opened_at  timestamptz NOT NULL DEFAULT now(),
    closed_at  timestamptz,
    outcome    text CHECK (outcome IN ('accepted', 'already_known', 'rejected')),
    error      text,
    attempts   integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    CHECK ((closed_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX broadcasts_open ON broadcasts (id) WHERE closed_at IS NULL;
