-- The transactional outbox. An event is written in the same transaction as
-- the state change it reports. Readers page by id, but ids are handed out
-- before commit, so a reader only sees events whose transaction id is below
-- the oldest transaction still running (pg_snapshot_xmin): no event can then
-- commit later with a lower id than one already read.
CREATE TABLE events (
    id         bigint PRIMARY KEY,
    xid        xid8 NOT NULL,
    asset      text NOT NULL,
    type       text NOT NULL CHECK (type ~ '^[a-z]+(\.[a-z_]+)+$'),
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE events_id_seq OWNED BY events.id;
CREATE INDEX events_xid ON events (xid);

-- Where each webhook's ordered, at-least-once delivery stands.
CREATE TABLE webhook_cursors (
    url             text PRIMARY KEY,
    delivered_up_to bigint NOT NULL DEFAULT 0,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- What each API client has acknowledged pulling (GET /v1/events).
CREATE TABLE event_acks (
    token_id    bigint PRIMARY KEY,
    acked_up_to bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
