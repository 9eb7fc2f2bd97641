-- +goose Up
-- Tamper evidence: each record stores the hash of its canonical form chained to the previous
-- record's hash. Rows written before the chain existed are chained at start (Backfill).
ALTER TABLE audit_records ADD COLUMN prev_hash bytea;
ALTER TABLE audit_records ADD COLUMN hash bytea;
CREATE INDEX audit_records_actor ON audit_records (actor, seq);
CREATE INDEX audit_records_occurred ON audit_records (occurred_at, seq);

-- Append-only: the application never changes or removes a record, and the database refuses it too.
-- (Someone who can disable this trigger can alter rows; the chain is what shows they did.)
-- +goose StatementBegin
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
       AND NEW.event_id = OLD.event_id AND NEW.type = OLD.type AND NEW.details = OLD.details THEN
        RETURN NEW; -- the one-time chaining of rows written before the chain existed
    END IF;
    RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP;
END $$;
-- +goose StatementEnd
CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();

-- +goose Down
DROP TRIGGER audit_records_append_only ON audit_records;
DROP FUNCTION audit_records_append_only();
DROP INDEX audit_records_occurred;
DROP INDEX audit_records_actor;
ALTER TABLE audit_records DROP COLUMN hash;
ALTER TABLE audit_records DROP COLUMN prev_hash;
