-- The elections of the singleton workers: one lease per worker (and asset,
-- '' for a worker of every asset). The holder renews expires_at; another
-- instance takes the lease over only after it passed, and every takeover
-- raises the epoch. A worker's transactions check holder and epoch first,
-- with a share lock on the row, so a takeover and a stale write cannot both
-- commit.
CREATE TABLE worker_leases (
    worker      text NOT NULL CHECK (worker ~ '^[a-z][a-z0-9-]{0,63}$'),
    asset       text NOT NULL CHECK (asset = '' OR asset ~ '^[a-z][a-z0-9_]{0,31}$'),
    holder      text NOT NULL CHECK (holder <> '' AND length(holder) <= 200),
    epoch       bigint NOT NULL CHECK (epoch > 0),
    acquired_at timestamptz NOT NULL,
    renewed_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL CHECK (expires_at >= renewed_at),
    PRIMARY KEY (worker, asset)
);
