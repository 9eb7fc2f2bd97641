// Package adapters stores audit records in PostgreSQL as a hash chain.
package adapters

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/platform/services/audit/internal/app"
	"github.com/acme/platform/services/audit/internal/domain/record"
)

// PostgresRecords is the audit table.
type PostgresRecords struct {
	Pool *pgxpool.Pool
}

// chainLock serialises appends: each record is chained to the one before it.
const chainLock = 0x61756474 // "audt"

const recordColumns = `seq, event_id::text, type, occurred_at, subject, actor, region, source, resource_type, outcome, details,
	topic, recorded_at`

func scan(row pgx.Row, extra ...any) (record.Record, error) {
	var r record.Record
	err := row.Scan(append([]any{&r.Seq, &r.EventID, &r.Type, &r.OccurredAt, &r.Subject, &r.Actor, &r.Region, &r.Source,
		&r.ResourceType, &r.Outcome, &r.Details, &r.Topic, &r.RecordedAt}, extra...)...)
	return r, err
}

// Append chains r to the last record and stores it; a record whose event id is already stored is
// not stored again.
func (p PostgresRecords) Append(ctx context.Context, r record.Record) (bool, error) {
	stored := false
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, chainLock); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_records WHERE event_id = $1)`, r.EventID).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		prev, err := lastHash(ctx, tx)
		if err != nil {
			return err
		}
		r.OccurredAt = r.OccurredAt.UTC().Truncate(time.Microsecond)
		_, err = tx.Exec(ctx, `INSERT INTO audit_records
			(event_id, type, occurred_at, subject, actor, region, source, resource_type, outcome, details, topic, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			r.EventID, r.Type, r.OccurredAt, r.Subject, r.Actor, r.Region, r.Source, r.ResourceType, r.Outcome, r.Details, r.Topic,
			prev, record.Hash(prev, r))
		if err != nil {
			return fmt.Errorf("insert audit record: %w", err)
		}
		stored = true
		return nil
	})
	return stored, err
}

func lastHash(ctx context.Context, tx pgx.Tx) ([]byte, error) {
	var h []byte
	err := tx.QueryRow(ctx, `SELECT hash FROM audit_records WHERE hash IS NOT NULL ORDER BY seq DESC LIMIT 1`).Scan(&h)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	return h, err
}

// ChainUnchained gives the records stored before the chain existed their hashes, in order, under
// the chain's lock; chain computes each hash from the one before it.
func (p PostgresRecords) ChainUnchained(ctx context.Context, chain func(prev []byte, r record.Record) []byte) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, chainLock); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+recordColumns+` FROM audit_records WHERE hash IS NULL ORDER BY seq`)
		if err != nil {
			return err
		}
		recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (record.Record, error) { return scan(r) })
		if err != nil {
			return err
		}
		var prev []byte
		for _, r := range recs {
			if err := tx.QueryRow(ctx, `SELECT hash FROM audit_records WHERE seq < $1 AND hash IS NOT NULL ORDER BY seq DESC LIMIT 1`, r.Seq).Scan(&prev); err != nil && err != pgx.ErrNoRows {
				return err
			}
			h := chain(prev, r)
			if _, err := tx.Exec(ctx, `UPDATE audit_records SET prev_hash = $2, hash = $3 WHERE seq = $1`, r.Seq, prev, h); err != nil {
				return err
			}
			prev = h
			n++
		}
		return nil
	})
	return n, err
}

// Walk reads the chain in order, with each record's stored hashes.
func (p PostgresRecords) Walk(ctx context.Context, fn func(r record.Record, prevHash, hash []byte) error) error {
	rows, err := p.Pool.Query(ctx, `SELECT `+recordColumns+`, coalesce(prev_hash, ''::bytea), coalesce(hash, ''::bytea)
		FROM audit_records ORDER BY seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var prev, hash []byte
		r, err := scan(rows, &prev, &hash)
		if err != nil {
			return err
		}
		if len(prev) == 0 {
			prev = nil
		}
		if err := fn(r, prev, hash); err != nil {
			return err
		}
	}
	return rows.Err()
}

// List returns records matching f after f.AfterSeq, oldest first.
func (p PostgresRecords) List(ctx context.Context, f record.Filter) ([]record.Record, error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+recordColumns+` FROM audit_records
		WHERE seq > $1 AND ($2 = '' OR subject = $2) AND ($3 = '' OR type = $3) AND ($4 = '' OR actor = $4)
		  AND ($5::timestamptz IS NULL OR occurred_at >= $5) AND ($6::timestamptz IS NULL OR occurred_at < $6)
		ORDER BY seq LIMIT $7`, f.AfterSeq, f.Subject, f.Type, f.Actor, nullTime(f.From), nullTime(f.To), f.Limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (record.Record, error) { return scan(r) })
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// Unarchived returns up to limit chained records after the last archived batch, in order.
func (p PostgresRecords) Unarchived(ctx context.Context, limit int) ([]app.Chained, error) {
	rows, err := p.Pool.Query(ctx, `SELECT `+recordColumns+`, prev_hash, hash FROM audit_records
		WHERE seq > coalesce((SELECT max(last_seq) FROM audit_archives), 0) AND hash IS NOT NULL ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (app.Chained, error) {
		var c app.Chained
		r, err := scan(row, &c.PrevHash, &c.Hash)
		c.Record = r
		return c, err
	})
}

// SaveBatch records an archived batch.
func (p PostgresRecords) SaveBatch(ctx context.Context, b app.Batch) error {
	_, err := p.Pool.Exec(ctx, `INSERT INTO audit_archives (first_seq, last_seq, record_count, first_prev_hash, last_hash,
		object_key, manifest_key, sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		b.FirstSeq, b.LastSeq, b.Count, b.FirstPrevHash, b.LastHash, b.Object, b.Manifest, b.SHA256)
	return err
}
