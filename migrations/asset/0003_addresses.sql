-- The wallets whose keys the service knows (account-level public keys only)
-- and every address derived from them. The next index of each branch lives
-- on the wallet row and is taken inside the serializable transaction that
-- stores the address, so no index, and no address, is ever handed out twice.
CREATE TABLE wallets (
    id            smallint PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name IN ('hot', 'cold')),
    descriptor    text NOT NULL,
    script_type   text NOT NULL CHECK (script_type IN ('p2wpkh', 'p2tr')),
    next_receive  integer NOT NULL DEFAULT 0 CHECK (next_receive >= 0 AND next_receive < 2147483647),
    next_change   integer NOT NULL DEFAULT 0 CHECK (next_change >= 0 AND next_change < 2147483647),
    created_at    timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);

CREATE TABLE addresses (
    id          bigserial PRIMARY KEY,
    wallet_id   smallint NOT NULL REFERENCES wallets (id),
    branch      smallint NOT NULL CHECK (branch IN (0, 1)),   -- 0 receive, 1 change
    idx         integer NOT NULL CHECK (idx >= 0),
    address     text NOT NULL UNIQUE,
    script      bytea NOT NULL UNIQUE,
    -- The customer the address was given to; NULL for change and internal use.
    account_id  bigint REFERENCES accounts (id),
    label       text CHECK (length(label) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (wallet_id, branch, idx)
);
CREATE INDEX addresses_account ON addresses (account_id, id) WHERE account_id IS NOT NULL;
