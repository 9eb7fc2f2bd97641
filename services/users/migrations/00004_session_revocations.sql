-- +goose Up
-- Sessions ended while access tokens of theirs may be unexpired. The gateways verify tokens
-- themselves and read this feed (ListRevocations) to refuse those tokens; a row is useless once
-- expires_at passed and is purged then. revoked_at is the clock at the insert, which commits at once.
CREATE TABLE session_revocations (
    session_id text        NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX session_revocations_revoked_at ON session_revocations (revoked_at);
CREATE INDEX session_revocations_expires_at ON session_revocations (expires_at);

-- +goose Down
DROP TABLE session_revocations;
