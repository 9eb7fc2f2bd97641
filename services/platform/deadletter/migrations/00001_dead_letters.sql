-- +goose Up
-- Messages that could not be processed, as the dead-letter topic delivered them: kept for an
-- operator to inspect and replay; nothing is silently dropped.
CREATE TABLE dead_letters (
    id          bigserial   PRIMARY KEY,
    topic       text        NOT NULL,
    message_id  text        NOT NULL,
    data        bytea       NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, message_id)
);

-- +goose Down
DROP TABLE dead_letters;
