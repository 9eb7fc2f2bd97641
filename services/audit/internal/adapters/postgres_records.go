// Package adapters stores audit records in PostgreSQL.
package adapters

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/platform/services/audit/internal/domain/record"
)

// PostgresRecords is the audit table.
type PostgresRecords struct {
	Pool *pgxpool.Pool
}

// Append inserts r; a second delivery of the same event id inserts nothing.
func (p PostgresRecords) Append(ctx context.Context, r record.Record) (bool, error) {
	tag, err := p.Pool.Exec(ctx, `INSERT INTO audit_records
		(event_id, type, occurred_at, subject, actor, region, source, resource_type, outcome, details, topic)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (event_id) DO NOTHING`,
		r.EventID, r.Type, r.OccurredAt, r.Subject, r.Actor, r.Region, r.Source, r.ResourceType, r.Outcome, r.Details, r.Topic)
	if err != nil {
		return false, fmt.Errorf("insert audit record: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// List returns records after f.AfterSeq, oldest first.
func (p PostgresRecords) List(ctx context.Context, f record.Filter) ([]record.Record, error) {
	rows, err := p.Pool.Query(ctx, `SELECT seq, event_id::text, type, occurred_at, subject, actor, region, source,
			resource_type, outcome, details, topic, recorded_at
		FROM audit_records
		WHERE seq > $1 AND ($2 = '' OR subject = $2) AND ($3 = '' OR type = $3)
		ORDER BY seq LIMIT $4`, f.AfterSeq, f.Subject, f.Type, f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Record, error) {
		var r record.Record
		err := row.Scan(&r.Seq, &r.EventID, &r.Type, &r.OccurredAt, &r.Subject, &r.Actor, &r.Region, &r.Source,
			&r.ResourceType, &r.Outcome, &r.Details, &r.Topic, &r.RecordedAt)
		return r, err
	})
}
