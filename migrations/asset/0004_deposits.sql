-- Payments to customers' addresses, one row per (txid, vout).
--   seen       in the mempool (pending in the ledger)
--   confirmed  in a block, fewer confirmations than the asset requires
--   credited   enough confirmations: moved from pending to available
--   reorged    its block left the best chain and the node no longer has it
--   replaced   a conflicting transaction (an RBF double spend) took its place
CREATE TABLE deposits (
    id            bigserial PRIMARY KEY,
    txid          bytea NOT NULL CHECK (length(txid) = 32),
    vout          integer NOT NULL CHECK (vout >= 0),
    address_id    bigint NOT NULL REFERENCES addresses (id),
    account_id    bigint NOT NULL REFERENCES accounts (id),
    amount        bigint NOT NULL CHECK (amount > 0 AND amount <= 2100000000000000),
    state         text NOT NULL CHECK (state IN ('seen', 'confirmed', 'credited', 'reorged', 'replaced')),
    block_hash    bytea CHECK (length(block_hash) = 32),
    block_height  integer,
    confirmations integer NOT NULL DEFAULT 0 CHECK (confirmations >= 0),
    -- After a credited deposit was reorged out, the part of the reversal the
    -- customer's balance could not cover, charged to the reorg_losses account
    -- and recovered first if the deposit confirms again.
    loss          bigint NOT NULL DEFAULT 0 CHECK (loss >= 0 AND loss <= amount),
    replaced_by   bytea CHECK (length(replaced_by) = 32),
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (txid, vout),
    CHECK ((block_hash IS NULL) = (block_height IS NULL)),
    -- Confirmed and credited deposits are in a block; the others are not.
    CHECK ((state IN ('confirmed', 'credited')) = (block_hash IS NOT NULL))
) WITH (fillfactor = 70);
CREATE INDEX deposits_open ON deposits (state) WHERE state IN ('seen', 'confirmed', 'reorged');
CREATE INDEX deposits_block ON deposits (block_hash) WHERE block_hash IS NOT NULL;
CREATE INDEX deposits_account ON deposits (account_id, id);
