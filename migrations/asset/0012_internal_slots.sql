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
