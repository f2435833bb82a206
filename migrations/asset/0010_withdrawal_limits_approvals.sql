-- Withdrawal limits, the circuit breaker and approvals (docs/withdrawals.md,
-- "Limits and approvals").

-- awaiting_approval: debited like requested, but not batched until enough
-- operators approve it. rejected: refused by an operator and refunded in the
-- same transaction, like cancelled.
ALTER TABLE withdrawals DROP CONSTRAINT withdrawals_state_check;
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_state_check
    CHECK (state IN ('awaiting_approval', 'requested', 'batched', 'broadcast', 'confirmed', 'cancelled', 'rejected', 'failed'));
ALTER TABLE withdrawals DROP CONSTRAINT withdrawals_check1;
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_refund_check
    CHECK ((state IN ('cancelled', 'rejected', 'failed')) = (refund_tx_id IS NOT NULL));
ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_awaiting_unbatched_check
    CHECK (state <> 'awaiting_approval' OR batch_id IS NULL);

-- The limits read recent withdrawals by account and by time, and whether a
-- destination was paid before: through these indexes, so a serializable
-- request locks a range of them rather than the whole table.
CREATE INDEX withdrawals_account_created ON withdrawals (account_id, created_at);
CREATE INDEX withdrawals_outflow_created ON withdrawals (created_at) WHERE internal_to IS NULL;
CREATE INDEX withdrawals_script_confirmed ON withdrawals (script) WHERE state = 'confirmed';
CREATE INDEX withdrawals_awaiting ON withdrawals (id) WHERE state = 'awaiting_approval';

-- The circuit breaker: a request that would take the hot wallet's outflow
-- over its hourly limit trips it; while a row is open (resumed_at NULL) no
-- batch is built and new requests are refused. Only an operator resumes it.
CREATE TABLE withdrawal_breaker (
    id         bigserial PRIMARY KEY,
    tripped_at timestamptz NOT NULL DEFAULT now(),
    reason     text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    resumed_at timestamptz,
    resumed_by text CHECK (length(resumed_by) BETWEEN 1 AND 100),
    CHECK ((resumed_at IS NULL) = (resumed_by IS NULL))
);
CREATE UNIQUE INDEX withdrawal_breaker_open ON withdrawal_breaker ((true)) WHERE resumed_at IS NULL;

-- Every operator decision on a withdrawal awaiting approval: one per
-- operator, so the same operator approving twice counts once.
CREATE TABLE withdrawal_approvals (
    withdrawal_id bigint NOT NULL REFERENCES withdrawals (id),
    operator      text NOT NULL CHECK (length(operator) BETWEEN 1 AND 100),
    token_id      bigint,
    decision      text NOT NULL CHECK (decision IN ('approve', 'reject')),
    at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (withdrawal_id, operator)
);
