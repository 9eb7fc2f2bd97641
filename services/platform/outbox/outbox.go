// Package outbox makes "change state and publish an event" one atomic step for services that own
// their SQL: Add writes events into the outbox table inside the caller's transaction, and a Relay
// publishes committed rows through Dapr pub/sub, in order, at least once. Consumers deduplicate by
// event id.
package outbox

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/propagation"

	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the outbox table; services pass it to postgres.Open beside their own.
func Migrations() postgres.Migrations {
	sub, _ := fs.Sub(migrations, "migrations")
	return postgres.Migrations{FS: sub, Table: "goose_platform_outbox"}
}

// notifyChannel wakes the relay as soon as a transaction that added events commits.
const notifyChannel = "acme_outbox"

// Writer encodes events and adds them to the outbox.
type Writer struct {
	codec *events.Codec
}

// NewWriter returns a writer that encodes with codec.
func NewWriter(codec *events.Codec) *Writer { return &Writer{codec: codec} }

// Event is one event to publish: its topic and envelope. The partition key is the envelope's
// subject, so one aggregate's events stay in order.
type Event struct {
	Topic    string
	Envelope events.Envelope
}

// Add writes evs into the outbox within tx. Nothing is published unless tx commits. The trace
// context of ctx (W3C traceparent and tracestate) is kept with each row, so the publish continues
// the request's trace.
func (w *Writer) Add(ctx context.Context, tx pgx.Tx, evs ...Event) error {
	trace := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, trace)
	for _, ev := range evs {
		data, err := w.codec.Encode(ev.Topic, ev.Envelope)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO outbox (event_id, topic, partition_key, event_type, content_type, payload, trace_parent, trace_state)
			VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), NULLIF($8, ''))`,
			ev.Envelope.EventID, ev.Topic, ev.Envelope.Subject, ev.Envelope.Type, events.ContentType, data,
			trace.Get("traceparent"), trace.Get("tracestate"))
		if err != nil {
			return fmt.Errorf("outbox insert: %w", err)
		}
	}
	if len(evs) > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
			return fmt.Errorf("outbox notify: %w", err)
		}
	}
	return nil
}
