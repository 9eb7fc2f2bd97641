-- +goose Up
-- A project's files: the bytes in S3 (key), everything else here. A quarantined file is one whose
-- upload is not scanned yet; an infected one has no bytes left, only this record.
CREATE TABLE files (
    id            uuid        PRIMARY KEY,
    project_id    uuid        NOT NULL,
    owner_id      uuid        NOT NULL,
    account_id    uuid        NOT NULL,
    name          text        NOT NULL,
    size_bytes    bigint      NOT NULL DEFAULT 0,
    sha256        text        NOT NULL DEFAULT '',
    content_type  text        NOT NULL DEFAULT '',
    declared_type text        NOT NULL DEFAULT '',
    state         text        NOT NULL CHECK (state IN ('quarantined', 'clean', 'infected')),
    scan_result   text        NOT NULL DEFAULT '',
    object_key    text        NOT NULL DEFAULT '',
    thumb_key     text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL
);
CREATE INDEX files_project ON files (project_id, created_at DESC, id DESC);
CREATE INDEX files_owner ON files (owner_id);
CREATE INDEX files_account ON files (account_id) WHERE state <> 'infected';
CREATE INDEX files_quarantined ON files (created_at) WHERE state = 'quarantined';
