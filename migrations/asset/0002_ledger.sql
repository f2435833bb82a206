-- Double-entry ledger. Every movement of money is one ledger transaction
-- whose entries sum to zero, separately for the available and the pending
-- (unconfirmed incoming) amounts. Balances are cached per account and kept
-- equal to the sum of entries by the trigger below, never by hand.

CREATE TABLE accounts (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('customer', 'hot_wallet', 'cold_wallet', 'network_fees', 'reorg_losses')),
    name       text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$'),
    -- Internal accounts take part in most transactions; their cached balance
    -- is spread over several rows (slots) so concurrent postings do not all
    -- conflict on one row. Customers have one slot.
    slots      smallint NOT NULL CHECK (slots BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'customer' OR slots = 1)
);
-- One internal account of each kind.
CREATE UNIQUE INDEX accounts_one_internal_per_kind ON accounts (kind) WHERE kind <> 'customer';

CREATE TABLE balances (
    account_id bigint NOT NULL REFERENCES accounts (id),
    slot       smallint NOT NULL CHECK (slot >= 0),
    customer   boolean NOT NULL,
    available  bigint NOT NULL DEFAULT 0,
    pending    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, slot),
    -- The last guard: the code refuses with "insufficient funds" first.
    CONSTRAINT customer_balance_not_negative CHECK (NOT customer OR (available >= 0 AND pending >= 0))
)
-- Room on each page for HOT updates: an update that adds no index entry
-- does not collide with other transactions' predicate locks on index pages,
-- which under SERIALIZABLE would abort unrelated transfers.
WITH (fillfactor = 50);

CREATE TABLE ledger_transactions (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL CHECK (kind ~ '^[a-z][a-z_.]{0,63}$'),
    memo       text NOT NULL DEFAULT '' CHECK (length(memo) <= 500),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- No foreign keys here, on purpose: a foreign-key check reads the referenced
-- index page, and under SERIALIZABLE every concurrent posting inserting into
-- that same (rightmost) page would then conflict with it. Instead entries are
-- only ever inserted together with their transaction row in one statement
-- (ledger.post), the trigger below refuses entries for a balance row that
-- does not exist, and `cryptoassets ledger check` proves both.
CREATE TABLE ledger_entries (
    id              bigserial PRIMARY KEY,
    tx_id           bigint NOT NULL,
    account_id      bigint NOT NULL,
    slot            smallint NOT NULL,
    available_delta bigint NOT NULL CHECK (abs(available_delta) <= 2100000000000000),
    pending_delta   bigint NOT NULL CHECK (abs(pending_delta) <= 2100000000000000),
    CHECK (available_delta <> 0 OR pending_delta <> 0)
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);
CREATE INDEX ledger_entries_tx ON ledger_entries (tx_id);

-- Each INSERT into ledger_entries must balance per transaction, and it moves
-- the cached balances by exactly the inserted amounts.
-- SET search_path FROM CURRENT pins the function to this asset's schema.
CREATE FUNCTION ledger_entries_post() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    unbalanced bigint;
    d record;
BEGIN
    SELECT tx_id INTO unbalanced FROM new_entries
    GROUP BY tx_id HAVING sum(available_delta) <> 0 OR sum(pending_delta) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', unbalanced USING ERRCODE = 'check_violation';
    END IF;
    -- Row by row through the primary key: a set-based UPDATE may be planned
    -- as a scan of the whole table, and under SERIALIZABLE that reads (and
    -- predicate-locks) every balance, making concurrent postings conflict.
    FOR d IN SELECT account_id, slot, sum(available_delta) AS available, sum(pending_delta) AS pending
               FROM new_entries GROUP BY account_id, slot ORDER BY account_id, slot LOOP
        UPDATE balances SET available = available + d.available, pending = pending + d.pending
         WHERE account_id = d.account_id AND slot = d.slot;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger entry for account % slot %, which has no balance row', d.account_id, d.slot
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_post AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_post();

-- Entries are history: never changed, never removed.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER balances_never_removed BEFORE DELETE OR TRUNCATE ON balances
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Cached balances start at zero and move only through the posting trigger.
CREATE FUNCTION balances_only_by_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.available <> 0 OR NEW.pending <> 0 THEN
            RAISE EXCEPTION 'a new balance starts at zero' USING ERRCODE = 'check_violation';
        END IF;
    ELSIF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'balances change only by posting ledger entries' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER balances_only_by_ledger BEFORE INSERT OR UPDATE ON balances
    FOR EACH ROW EXECUTE FUNCTION balances_only_by_ledger();

-- The internal accounts.
INSERT INTO accounts (kind, name, slots) VALUES
    ('hot_wallet', 'internal:hot_wallet', 16),
    ('cold_wallet', 'internal:cold_wallet', 16),
    ('network_fees', 'internal:network_fees', 16),
    ('reorg_losses', 'internal:reorg_losses', 16);
INSERT INTO balances (account_id, slot, customer)
    SELECT a.id, s, false FROM accounts a, generate_series(0, a.slots - 1) s;
