-- +goose Up
-- Batches of the chain written to object storage, in order; the next batch starts after last_seq.
CREATE TABLE audit_archives (
    id              bigserial   PRIMARY KEY,
    first_seq       bigint      NOT NULL,
    last_seq        bigint      NOT NULL UNIQUE,
    record_count    integer     NOT NULL,
    first_prev_hash bytea,
    last_hash       bytea       NOT NULL,
    object_key      text        NOT NULL,
    manifest_key    text        NOT NULL,
    sha256          bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE audit_archives;
