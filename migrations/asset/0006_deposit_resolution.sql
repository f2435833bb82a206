-- What the follower needs to resolve every deposit, whatever the chain holds.
--
-- expired: an unconfirmed deposit that left the node's mempool, is in no
-- block and whose inputs nobody else spent, for longer than the asset's
-- seen_expiry. Its pending amount is removed; it is credited after all if
-- its transaction confirms later.
ALTER TABLE deposits DROP CONSTRAINT deposits_state_check;
ALTER TABLE deposits ADD CONSTRAINT deposits_state_check
    CHECK (state IN ('seen', 'confirmed', 'credited', 'reorged', 'replaced', 'expired'));

-- The outpoints the deposit's transaction spends (36 bytes each: txid, then
-- the output index little-endian), so a replacement is recognised after a
-- restart even when the node no longer has the original transaction.
ALTER TABLE deposits ADD COLUMN spends bytea CHECK (length(spends) % 36 = 0);
-- A coinbase output is spendable only after 100 blocks: it is credited no
-- earlier than that, whatever the asset's confirmations.
ALTER TABLE deposits ADD COLUMN coinbase boolean NOT NULL DEFAULT false;
-- When a seen deposit was first found neither in the mempool nor in a block;
-- NULL while it is in the mempool. seen_expiry counts from here.
ALTER TABLE deposits ADD COLUMN missing_since timestamptz;

-- Outputs to our addresses that are not deposits: zero, below the asset's
-- minimum deposit, or an impossible amount. Recorded so an operator can
-- answer a customer, and never credited.
CREATE TABLE ignored_outputs (
    txid        bytea NOT NULL CHECK (length(txid) = 32),
    vout        integer NOT NULL CHECK (vout >= 0),
    address_id  bigint NOT NULL REFERENCES addresses (id),
    amount      bigint NOT NULL,
    reason      text NOT NULL CHECK (reason IN ('zero_value', 'below_minimum', 'invalid_amount')),
    block_hash  bytea CHECK (length(block_hash) = 32),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (txid, vout)
);
