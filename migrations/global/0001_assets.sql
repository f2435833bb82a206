-- The assets this database serves, one schema each. The network is recorded
-- when the schema is created so that a configuration pointing a regtest node
-- at a mainnet schema (or the reverse) is refused instead of mixing coins.
CREATE TABLE assets (
    schema_name text PRIMARY KEY CHECK (schema_name ~ '^[a-z][a-z0-9_]{0,31}$'),
    network     text NOT NULL CHECK (network IN ('mainnet', 'testnet', 'signet', 'regtest')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
