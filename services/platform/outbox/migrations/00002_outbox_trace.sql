-- +goose Up
-- The W3C trace context of the transaction that wrote the event, so the relay's publish and the
-- consumers continue the request's trace (issue 13). Rows written before have none.
ALTER TABLE outbox ADD COLUMN trace_parent text, ADD COLUMN trace_state text;

-- +goose Down
ALTER TABLE outbox DROP COLUMN trace_parent, DROP COLUMN trace_state;
