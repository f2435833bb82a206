-- A top-up's cold.topup_exported event is emitted once its files are
-- written, not in the transaction that reserves it (docs/cold-storage.md):
--   exported_by   who asked for it (an operator, or the keeper), kept for
--                 the event when it is announced later, by the keeper
--                 writing the files of an export whose writer died
--   announced_at  when the event was emitted; set once, by the one
--                 announcer whose UPDATE ... WHERE announced_at IS NULL
--                 found it unset
-- Only a top-up has them. Top-ups exported before this migration emitted
-- their event when they were reserved: they are announced.
ALTER TABLE batches ADD COLUMN exported_by text CHECK (length(exported_by) BETWEEN 1 AND 100);
ALTER TABLE batches ADD COLUMN announced_at timestamptz;
UPDATE batches SET announced_at = created_at WHERE kind = 'topup';
ALTER TABLE batches ADD CONSTRAINT batches_announce_check
    CHECK (kind = 'topup' OR (exported_by IS NULL AND announced_at IS NULL));

CREATE FUNCTION batches_announce_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.announced_at IS NOT NULL AND NEW.announced_at IS DISTINCT FROM OLD.announced_at THEN
        RAISE EXCEPTION 'top-up %: announced at %, once', OLD.id, OLD.announced_at USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.exported_by IS NOT NULL AND NEW.exported_by IS DISTINCT FROM OLD.exported_by THEN
        RAISE EXCEPTION 'top-up %: who exported it is set once, in the transaction that reserves it', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER batches_announce_guard BEFORE UPDATE ON batches FOR EACH ROW EXECUTE FUNCTION batches_announce_guard();

-- The keeper's recovery reads the reserved top-ups not yet announced.
CREATE INDEX batches_unannounced_topup ON batches (id) WHERE kind = 'topup' AND state = 'reserved' AND announced_at IS NULL;
