-- Money out: the wallets' coins, the batches that spend them to pay
-- withdrawals, and the broadcast record's states for them.

-- Every output paying an address of ours (a customer's deposit address, a
-- hot change address; the cold wallet's once it is watched), and what spent
-- it. The follower writes these in the same transaction as the block or
-- mempool scan that showed them, and a block leaving the chain undoes
-- exactly what it wrote.
--   unconfirmed  block_hash IS NULL
--   confirmed    block_hash set, spent_by NULL
--   spent        spent_by set: in the mempool (spent_block NULL) or in a block
CREATE TABLE coins (
    txid          bytea NOT NULL CHECK (length(txid) = 32),
    vout          integer NOT NULL CHECK (vout >= 0),
    wallet_id     smallint NOT NULL REFERENCES wallets (id),
    address_id    bigint NOT NULL REFERENCES addresses (id),
    amount        bigint NOT NULL CHECK (amount > 0 AND amount <= 2100000000000000),
    script        bytea NOT NULL CHECK (length(script) BETWEEN 1 AND 42),
    coinbase      boolean NOT NULL DEFAULT false,
    block_hash    bytea CHECK (length(block_hash) = 32),
    block_height  integer CHECK (block_height >= 0),
    spent_by      bytea CHECK (length(spent_by) = 32),
    spent_block   bytea CHECK (length(spent_block) = 32),
    spent_height  integer CHECK (spent_height >= 0),
    -- The batch that spends (or will spend) it. A coin is in at most one
    -- live batch: it is reserved in the transaction that builds the batch.
    reserved_by   bigint,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (txid, vout),
    CHECK ((block_hash IS NULL) = (block_height IS NULL)),
    CHECK ((spent_block IS NULL) = (spent_height IS NULL)),
    CHECK (spent_block IS NULL OR spent_by IS NOT NULL)
);
CREATE INDEX coins_spendable ON coins (wallet_id, amount) WHERE spent_by IS NULL AND reserved_by IS NULL;
CREATE INDEX coins_block ON coins (block_hash) WHERE block_hash IS NOT NULL;
CREATE INDEX coins_spent_block ON coins (spent_block) WHERE spent_block IS NOT NULL;
CREATE INDEX coins_spent_by ON coins (spent_by) WHERE spent_by IS NOT NULL;

-- One transaction paying withdrawals from the hot wallet.
--   reserved      built: coins reserved, withdrawals batched, unsigned PSBT stored
--   broadcasting  signed: the bytes are in an open broadcast record
--   broadcast     the node accepted it (or already had it)
--   confirmed     in a block with the asset's confirmations; booked in the ledger
--   rejected      the node refused it; its withdrawals are paid again only by
--                 a transaction conflicting with it (see batch_withdrawals)
--   abandoned     an operator gave it up (broadcasts resolve --abandon), same rule
--   replaced      a fee bump (or a re-payment) of it confirmed instead: every input
--                 is spent by that later version, which pays its withdrawals
--   dead          every input is proven spent by a transaction that pays none of
--                 its withdrawals: it can never confirm
CREATE TABLE batches (
    id            bigserial PRIMARY KEY,
    state         text NOT NULL CHECK (state IN ('reserved', 'broadcasting', 'broadcast', 'confirmed', 'rejected', 'abandoned', 'replaced', 'dead')),
    -- The txid is fixed when the batch is built (segwit inputs only: the
    -- witness is not part of it), before anything is signed or sent.
    txid          bytea NOT NULL UNIQUE CHECK (length(txid) = 32),
    psbt          bytea NOT NULL,
    fee           bigint NOT NULL CHECK (fee > 0),
    fee_rate      bigint NOT NULL CHECK (fee_rate > 0), -- sat per 1000 vbytes
    vsize         integer NOT NULL CHECK (vsize > 0),
    locktime      bigint NOT NULL CHECK (locktime >= 0),
    change_vout   integer CHECK (change_vout >= 0),
    change_amount bigint CHECK (change_amount > 0),
    -- The earlier batch it conflicts with: the version it bumps, or a
    -- rejected or abandoned one whose withdrawals it pays again.
    replaces      bigint REFERENCES batches (id),
    -- The first version of a chain of fee bumps (itself for the first), and
    -- the deadline and fee budget the automatic bumper works to.
    first_version bigint REFERENCES batches (id),
    deadline_height integer,
    fee_budget    bigint CHECK (fee_budget > 0),
    -- An operator's request (broadcasts bump) for a replacement at this rate,
    -- carried out by the batcher, which holds the hot key.
    bump_fee_rate bigint CHECK (bump_fee_rate > 0),
    bump_requested_by text,
    block_hash    bytea CHECK (length(block_hash) = 32),
    block_height  integer,
    confirmations integer NOT NULL DEFAULT 0 CHECK (confirmations >= 0),
    -- The ledger transaction that booked it when it confirmed.
    ledger_tx_id  bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((change_vout IS NULL) = (change_amount IS NULL)),
    CHECK ((block_hash IS NULL) = (block_height IS NULL))
);
CREATE INDEX batches_live ON batches (id) WHERE state IN ('reserved', 'broadcasting', 'broadcast');

ALTER TABLE coins ADD CONSTRAINT coins_reserved_by_fkey FOREIGN KEY (reserved_by) REFERENCES batches (id);

-- The outpoints each batch spends, kept whatever later happens to the coin
-- rows: the double-payment rule is checked against them.
CREATE TABLE batch_inputs (
    batch_id bigint NOT NULL REFERENCES batches (id),
    txid     bytea NOT NULL CHECK (length(txid) = 32),
    vout     integer NOT NULL CHECK (vout >= 0),
    PRIMARY KEY (batch_id, txid, vout)
);
CREATE INDEX batch_inputs_outpoint ON batch_inputs (txid, vout);

-- Every batch that ever paid each withdrawal, with the output paying it.
CREATE TABLE batch_withdrawals (
    batch_id      bigint NOT NULL REFERENCES batches (id),
    withdrawal_id bigint NOT NULL REFERENCES withdrawals (id),
    vout          integer NOT NULL CHECK (vout >= 0),
    PRIMARY KEY (batch_id, withdrawal_id),
    UNIQUE (batch_id, vout)
);
CREATE INDEX batch_withdrawals_withdrawal ON batch_withdrawals (withdrawal_id);

-- The rule that makes a double payment impossible, checked at commit: a
-- withdrawal is paid by a new batch only if that batch spends at least one
-- input of every earlier batch that paid it (and is not dead), so at most
-- one of them can ever confirm. SET search_path FROM CURRENT pins the
-- function to this asset's schema.
CREATE FUNCTION batch_withdrawals_conflict_check() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    earlier bigint;
BEGIN
    FOR earlier IN
        SELECT bw.batch_id FROM batch_withdrawals bw JOIN batches b ON b.id = bw.batch_id
        WHERE bw.withdrawal_id = NEW.withdrawal_id AND bw.batch_id <> NEW.batch_id AND b.state NOT IN ('dead', 'replaced')
    LOOP
        IF NOT EXISTS (SELECT 1 FROM batch_inputs n JOIN batch_inputs e ON e.txid = n.txid AND e.vout = n.vout
                       WHERE n.batch_id = NEW.batch_id AND e.batch_id = earlier) THEN
            RAISE EXCEPTION 'withdrawal % would be paid by batch % without spending an input of batch %, which also pays it',
                NEW.withdrawal_id, NEW.batch_id, earlier USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER batch_withdrawals_conflict AFTER INSERT ON batch_withdrawals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION batch_withdrawals_conflict_check();

-- A dead or replaced batch never comes back, and the rows that say what a batch spent
-- and paid are never removed.
CREATE FUNCTION batches_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state IN ('dead', 'replaced') AND NEW.state <> OLD.state THEN
        RAISE EXCEPTION 'batch % is % (every input spent by another transaction) and cannot become %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.txid <> OLD.txid OR NEW.psbt <> OLD.psbt THEN
        RAISE EXCEPTION 'batch %: its transaction is fixed when it is built', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER batches_state_guard BEFORE UPDATE ON batches FOR EACH ROW EXECUTE FUNCTION batches_state_guard();
CREATE FUNCTION batch_rows_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER batch_inputs_append_only BEFORE UPDATE OR DELETE ON batch_inputs
    FOR EACH STATEMENT EXECUTE FUNCTION batch_rows_append_only();
CREATE TRIGGER batch_withdrawals_append_only BEFORE UPDATE OR DELETE ON batch_withdrawals
    FOR EACH STATEMENT EXECUTE FUNCTION batch_rows_append_only();

ALTER TABLE withdrawals ADD CONSTRAINT withdrawals_batch_id_fkey FOREIGN KEY (batch_id) REFERENCES batches (id);
ALTER TABLE withdrawals ADD COLUMN vout integer CHECK (vout >= 0);

-- Hot withdrawals go through the one broadcaster.
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_kind_check;
ALTER TABLE broadcasts ADD CONSTRAINT broadcasts_kind_check CHECK (kind IN ('cold_topup', 'withdrawal'));
-- An open record past its age limit, or whose inputs the chain shows spent by
-- a transaction we did not sign, is broken until an operator resolves it.
ALTER TABLE broadcasts ADD COLUMN broken_at timestamptz;
ALTER TABLE broadcasts ADD COLUMN broken_reason text;
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_outcome_check;
ALTER TABLE broadcasts ADD CONSTRAINT broadcasts_outcome_check CHECK (outcome IN ('accepted', 'already_known', 'rejected', 'abandoned'));
-- Who settled it by hand (broadcasts resolve --mark-sent / --abandon), and when.
ALTER TABLE broadcasts ADD COLUMN resolved_by text;
