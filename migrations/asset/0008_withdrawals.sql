-- Withdrawal requests. A request debits the customer's available balance
-- into the internal withdrawals_pending account in the same transaction that
-- records it, so a withdrawal can never be larger than the balance it came
-- from; a cancellation refunds it the same way.

ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check
    CHECK (kind IN ('customer', 'hot_wallet', 'cold_wallet', 'network_fees', 'reorg_losses', 'withdrawals_pending'));

-- Every request posts to this account. Under SERIALIZABLE a request fails
-- and retries when a request that committed after its snapshot updated the
-- same balance row, so the expected retries are about (requests committed
-- during one request) / slots: 256 slots keep that near one in ten at full
-- load.
ALTER TABLE accounts DROP CONSTRAINT accounts_slots_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_slots_check CHECK (slots BETWEEN 1 AND 256);
INSERT INTO accounts (kind, name, slots) VALUES ('withdrawals_pending', 'internal:withdrawals_pending', 256);
INSERT INTO balances (account_id, slot, customer)
    SELECT a.id, s, false FROM accounts a, generate_series(0, a.slots - 1) s WHERE a.kind = 'withdrawals_pending';

CREATE TABLE withdrawals (
    id               bigserial PRIMARY KEY,
    account_id       bigint NOT NULL REFERENCES accounts (id),
    address          text NOT NULL CHECK (length(address) BETWEEN 1 AND 100),
    script           bytea NOT NULL CHECK (length(script) BETWEEN 1 AND 42),
    amount           bigint NOT NULL CHECK (amount > 0 AND amount <= 2100000000000000),
    -- The flat fee taken from the customer at request time (booked to network_fees).
    fee              bigint NOT NULL DEFAULT 0 CHECK (fee >= 0 AND fee <= 2100000000000000),
    -- Set when the destination is a customer address of ours: the withdrawal
    -- was an internal transfer to that account, with no chain transaction.
    internal_to      bigint REFERENCES accounts (id),
    state            text NOT NULL CHECK (state IN ('requested', 'batched', 'broadcast', 'confirmed', 'cancelled', 'failed')),
    -- The batch that pays it, once there is one.
    batch_id         bigint,
    -- The request's ledger transaction carries "withdrawal ID to ADDRESS" as
    -- its memo; the refund's id is kept here.
    refund_tx_id     bigint,
    -- Who asked under which Idempotency-Key (token 0: the operator's CLI).
    token_id         bigint,
    idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (token_id, idempotency_key),
    CHECK (internal_to IS NULL OR (state = 'confirmed' AND batch_id IS NULL)),
    CHECK ((state IN ('cancelled', 'failed')) = (refund_tx_id IS NOT NULL)),
    CHECK (state <> 'requested' OR batch_id IS NULL)
);
CREATE INDEX withdrawals_requested ON withdrawals (id) WHERE state = 'requested';
CREATE INDEX withdrawals_account ON withdrawals (account_id, id);
