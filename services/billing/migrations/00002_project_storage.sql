-- +goose Up
-- The bytes of each project's files, so that a project's whole usage moves with its ownership.
ALTER TABLE project_accounts ADD COLUMN storage_bytes bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE project_accounts DROP COLUMN storage_bytes;
