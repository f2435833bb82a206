-- Events get their public id when they are published, not when inserted.
--
-- 0003 numbered events from a sequence at insert and showed readers only
-- events whose transaction id (xid) was below the oldest running one. But a
-- transaction's xid is assigned at its first write, not at the event insert:
-- a transaction that wrote elsewhere first holds an older xid and can insert
-- a higher id after a younger transaction inserted a lower one; the older one
-- commits, a reader takes the higher id, and the younger one's lower id
-- commits behind the reader's position for good.
--
-- Now an event is inserted with an insertion number (seq) and no id.
-- Publication (events.Publish, which every reader calls before it reads) is
-- one serializable transaction that numbers the unpublished events it can
-- see, in seq order, continuing from event_publication.published_up_to, and
-- moves that counter. What it can see is committed and final; an event still
-- uncommitted is numbered by a later publication. Two publications that
-- overlap both update the counter row (and the same events), so one fails
-- with a serialization error and is retried after the other committed:
-- publications commit one after another, each above the last. A reader that
-- sees id N therefore sees every id below N, and ids are dense from here on,
-- whatever order a transaction's writes came in and however long it ran.
ALTER TABLE events ADD COLUMN seq bigint;
UPDATE events SET seq = id;
CREATE SEQUENCE events_seq_seq OWNED BY events.seq;
SELECT setval('events_seq_seq', coalesce((SELECT max(seq) FROM events), 0) + 1, false);
ALTER TABLE events
    ALTER COLUMN seq SET DEFAULT nextval('events_seq_seq'),
    ALTER COLUMN seq SET NOT NULL,
    DROP CONSTRAINT events_pkey,
    ADD PRIMARY KEY (seq),
    ALTER COLUMN id DROP NOT NULL,
    ADD CONSTRAINT events_id_key UNIQUE (id),
    ADD COLUMN published_at timestamptz,
    DROP COLUMN xid;
UPDATE events SET published_at = created_at;
ALTER TABLE events ADD CONSTRAINT events_published CHECK ((id IS NULL) = (published_at IS NULL));
DROP SEQUENCE events_id_seq;
CREATE INDEX events_unpublished ON events (seq) WHERE id IS NULL;

-- The one row that hands out public event ids: the newest published id.
CREATE TABLE event_publication (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    published_up_to bigint NOT NULL CHECK (published_up_to >= 0)
);
INSERT INTO event_publication (published_up_to) SELECT coalesce(max(id), 0) FROM events;
