-- +goose Up
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    email         text        NOT NULL,
    display_name  text        NOT NULL,
    region        text        NOT NULL CHECK (region IN ('us', 'eu')),
    roles         text[]      NOT NULL DEFAULT '{member}',
    password_hash text        NOT NULL,
    version       bigint      NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- Emails are stored normalised (trimmed, lower case), so a plain unique index is case-insensitive.
CREATE UNIQUE INDEX users_email ON users (email);

-- +goose Down
DROP TABLE users;
