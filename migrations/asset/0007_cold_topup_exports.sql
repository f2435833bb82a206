-- Top-ups the service built and handed to the cold signer, keyed by the txid
-- of their unsigned transaction. A segwit txid does not cover signatures, so
-- the signed transaction's unsigned form has the same txid: `cold submit`
-- broadcasts only a transaction whose unsigned form is one of these.
CREATE TABLE cold_topup_exports (
    unsigned_txid bytea PRIMARY KEY CHECK (length(unsigned_txid) = 32),
    unsigned_tx   bytea NOT NULL,
    exported_at   timestamptz NOT NULL DEFAULT now()
);
