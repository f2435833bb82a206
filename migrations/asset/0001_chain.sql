-- The blocks the chain follower has processed, so that a reorganisation is
-- seen as a parent-hash mismatch and rolled back block by block.
CREATE TABLE chain_blocks (
    height      integer PRIMARY KEY CHECK (height >= 0),
    hash        bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    parent_hash bytea NOT NULL CHECK (length(parent_hash) = 32),
    seen_at     timestamptz NOT NULL DEFAULT now()
);

-- One row: where the follower resumes. NULL height means "not started".
CREATE TABLE chain_cursor (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    height     integer CHECK (height >= 0),
    hash       bytea CHECK (length(hash) = 32),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO chain_cursor (id) VALUES (true);
