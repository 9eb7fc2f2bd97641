-- +goose Up
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
-- An erased account keeps its id (other services' records point at it) and nothing of the person.
ALTER TABLE users ADD COLUMN erased_at timestamptz;

-- +goose Down
ALTER TABLE users DROP COLUMN erased_at;
ALTER TABLE users DROP COLUMN email_verified_at;
