-- +goose Up
-- One row per audit event, stored once: the event id is the key, so a redelivery changes nothing.
CREATE TABLE audit_records (
    seq           bigserial   PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    type          text        NOT NULL,
    occurred_at   timestamptz NOT NULL,
    subject       text        NOT NULL,
    actor         text        NOT NULL,
    region        text        NOT NULL,
    source        text        NOT NULL,
    resource_type text        NOT NULL,
    outcome       text        NOT NULL,
    details       jsonb       NOT NULL DEFAULT '{}',
    topic         text        NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_records_subject ON audit_records (subject, seq);
CREATE INDEX audit_records_type ON audit_records (type, seq);

-- +goose Down
DROP TABLE audit_records;
