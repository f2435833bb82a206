-- Every deposit credit and every withdrawal posts between a customer and an
-- internal account. Under SERIALIZABLE a posting fails and retries when a
-- posting that committed after its snapshot updated the same balance row,
-- so with slots taken in turn a posting retries about (postings committed
-- while it ran) / slots times: at 32 concurrent postings 16 slots meant 0.4
-- retries per commit. 256 slots, as withdrawals_pending has, keep each row
-- unused for longer than a posting runs. The new rows start at zero, so the
-- balances (the sum of the slots) do not change.
UPDATE accounts SET slots = 256 WHERE kind IN ('hot_wallet', 'cold_wallet', 'network_fees', 'reorg_losses') AND slots < 256;
INSERT INTO balances (account_id, slot, customer)
    SELECT a.id, s, false FROM accounts a, generate_series(0, a.slots - 1) s
    WHERE a.kind IN ('hot_wallet', 'cold_wallet', 'network_fees', 'reorg_losses')
    ON CONFLICT (account_id, slot) DO NOTHING;

-- The posting trigger with the same guards in fewer statements: the
-- balance check rides on the loop's query (checked on its first row, before
-- any balance moves), and the balances' update guard fires only for an
-- update that does not come from a trigger, the only kind it refuses, so a
-- posting no longer calls it for each balance row it moves.
CREATE OR REPLACE FUNCTION ledger_entries_post() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    d record;
BEGIN
    -- Row by row through the primary key: a set-based UPDATE may be planned
    -- as a scan of the whole table, and under SERIALIZABLE that reads (and
    -- predicate-locks) every balance, making concurrent postings conflict.
    FOR d IN SELECT account_id, slot, sum(available_delta) AS available, sum(pending_delta) AS pending,
                    (SELECT tx_id FROM new_entries GROUP BY tx_id
                      HAVING sum(available_delta) <> 0 OR sum(pending_delta) <> 0 LIMIT 1) AS unbalanced
               FROM new_entries GROUP BY account_id, slot ORDER BY account_id, slot LOOP
        IF d.unbalanced IS NOT NULL THEN
            RAISE EXCEPTION 'ledger transaction % does not balance', d.unbalanced USING ERRCODE = 'check_violation';
        END IF;
        UPDATE balances SET available = available + d.available, pending = pending + d.pending
         WHERE account_id = d.account_id AND slot = d.slot;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger entry for account % slot %, which has no balance row', d.account_id, d.slot
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- pg_trigger_depth() in a WHEN clause is the depth of the statement doing
-- the update: 0 for a statement of its own, 1 inside the posting trigger.
DROP TRIGGER balances_only_by_ledger ON balances;
CREATE TRIGGER balances_start_at_zero BEFORE INSERT ON balances
    FOR EACH ROW EXECUTE FUNCTION balances_only_by_ledger();
CREATE TRIGGER balances_only_by_ledger BEFORE UPDATE ON balances
    FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION balances_only_by_ledger();
