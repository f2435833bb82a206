-- Cold storage as one loop (docs/cold-storage.md). A batch is now every
-- transaction of ours, of one of three kinds, through the same states,
-- broadcaster, follower and reorg handling:
--   withdrawals  hot coins pay customers' withdrawals (and hot change)
--   sweep        hot coins pay one fresh cold address (and hot change):
--                booked hot -> cold when it confirms
--   topup        cold coins pay one fresh hot address (and cold change):
--                'reserved' means exported to the air-gapped signer; it
--                leaves that state only by an import of a signed PSBT whose
--                unsigned transaction is exactly this one (-> broadcasting),
--                a cancel or its expiry; booked cold -> hot when it confirms
ALTER TABLE batches ADD COLUMN kind text NOT NULL DEFAULT 'withdrawals'
    CHECK (kind IN ('withdrawals', 'sweep', 'topup'));
-- The output paying the other wallet, for a sweep or a top-up.
ALTER TABLE batches ADD COLUMN transfer_vout integer CHECK (transfer_vout >= 0);
ALTER TABLE batches ADD COLUMN transfer_amount bigint CHECK (transfer_amount > 0);
ALTER TABLE batches ADD COLUMN transfer_address_id bigint REFERENCES addresses (id);
-- A top-up export's expiry, and who cancelled it.
ALTER TABLE batches ADD COLUMN expires_at timestamptz;
ALTER TABLE batches ADD COLUMN cancelled_by text CHECK (length(cancelled_by) BETWEEN 1 AND 100);
ALTER TABLE batches ADD CONSTRAINT batches_transfer_check
    CHECK ((kind = 'withdrawals') = (transfer_vout IS NULL)
       AND (transfer_vout IS NULL) = (transfer_amount IS NULL)
       AND (transfer_vout IS NULL) = (transfer_address_id IS NULL));
ALTER TABLE batches ADD CONSTRAINT batches_expiry_check CHECK ((kind = 'topup') = (expires_at IS NOT NULL));

--   cancelled  an exported top-up an operator cancelled before any import
--   expired    an exported top-up not imported before expires_at
-- Both release its coins and are final.
ALTER TABLE batches DROP CONSTRAINT batches_state_check;
ALTER TABLE batches ADD CONSTRAINT batches_state_check CHECK (state IN
    ('reserved', 'broadcasting', 'broadcast', 'confirmed', 'rejected', 'abandoned', 'replaced', 'dead', 'cancelled', 'expired'));
ALTER TABLE batches ADD CONSTRAINT batches_cancel_check CHECK ((state = 'cancelled') = (cancelled_by IS NOT NULL));

CREATE OR REPLACE FUNCTION batches_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state IN ('dead', 'replaced', 'cancelled', 'expired') AND NEW.state <> OLD.state THEN
        RAISE EXCEPTION 'batch % is % and cannot become %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state IN ('cancelled', 'expired') AND OLD.state <> NEW.state AND (OLD.state <> 'reserved' OR OLD.kind <> 'topup') THEN
        RAISE EXCEPTION 'batch % (%) is % : only an exported top-up not yet imported can be %', OLD.id, OLD.kind, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.txid <> OLD.txid OR NEW.psbt <> OLD.psbt OR NEW.kind <> OLD.kind THEN
        RAISE EXCEPTION 'batch %: its transaction is fixed when it is built', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE INDEX batches_open_topup ON batches (id) WHERE kind = 'topup' AND state IN ('reserved', 'broadcasting', 'broadcast');

-- Sweeps have their own broadcast kind; top-ups keep 'cold_topup'.
ALTER TABLE broadcasts DROP CONSTRAINT broadcasts_kind_check;
ALTER TABLE broadcasts ADD CONSTRAINT broadcasts_kind_check CHECK (kind IN ('cold_topup', 'withdrawal', 'sweep'));

-- Exports are batches of kind 'topup' now, with their state; the old list of
-- unsigned txids (cold_topup_exports) is no longer written.
