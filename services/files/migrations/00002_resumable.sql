-- +goose Up
-- Resumable (tus) uploads: upload_id is the upload's id in the upload store (tusd's S3 store), ''
-- for a synchronous upload; received is how much of it was stored as of the last write.
ALTER TABLE files ADD COLUMN upload_id text NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN received bigint NOT NULL DEFAULT 0;
CREATE INDEX files_pending_resumable ON files (created_at) WHERE state = 'quarantined' AND upload_id <> '';

-- +goose Down
DROP INDEX files_pending_resumable;
ALTER TABLE files DROP COLUMN received;
ALTER TABLE files DROP COLUMN upload_id;
