package adapters_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/audit/internal/adapters"
	"github.com/acme/platform/services/audit/internal/app"
	"github.com/acme/platform/services/audit/internal/domain/record"
	"github.com/acme/platform/services/audit/migrations"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/postgres/pgtest"
)

func rec(typ string) record.Record {
	return record.Record{EventID: uuid.NewString(), Type: typ, OccurredAt: time.Now(), Subject: "s", Actor: "a", Region: "us",
		Source: "users", ResourceType: "user", Outcome: "success", Details: map[string]string{"k": "v"}, Topic: "acme.audit.log"}
}

func TestPostgresRecords_ChainBackfillAppendOnceVerify(t *testing.T) {
	pool := pgtest.New(t, postgres.Migrations{FS: migrations.FS, Table: "goose_audit"})
	ctx := context.Background()
	store := adapters.PostgresRecords{Pool: pool}
	svc := app.Service{Store: store}
	admin := caller.Caller{UserID: "admin", Roles: []string{"admin"}}
	// Two rows as the first version of the service wrote them: no hashes.
	for _, r := range []record.Record{rec("old.one"), rec("old.two")} {
		if _, err := pool.Exec(ctx, `INSERT INTO audit_records (event_id, type, occurred_at, subject, actor, region, source,
			resource_type, outcome, details, topic) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
			r.EventID, r.Type, r.OccurredAt, r.Subject, r.Actor, r.Region, r.Source, r.ResourceType, r.Outcome, r.Details, r.Topic); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := svc.Backfill(ctx); err != nil || n != 2 {
		t.Fatalf("backfill %d %v", n, err)
	}
	if n, _ := svc.Backfill(ctx); n != 0 {
		t.Fatalf("second backfill chained %d again", n)
	}
	r := rec("new")
	for i := 0; i < 2; i++ {
		stored, err := store.Append(ctx, r)
		if err != nil || stored != (i == 0) {
			t.Fatalf("append %d: %v %v", i, stored, err)
		}
	}
	if _, err := store.Append(ctx, rec("newer")); err != nil {
		t.Fatal(err)
	}
	b, checked, err := svc.Verify(ctx, admin)
	if err != nil || b != nil || checked != 4 {
		t.Fatalf("verify: %+v %d %v", b, checked, err)
	}
	// The trigger refuses changes; behind its back, verify finds the altered record.
	if _, err := pool.Exec(ctx, `UPDATE audit_records SET outcome = 'denied' WHERE seq = 3`); err == nil {
		t.Fatal("the trigger let an update through")
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM audit_records WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	b, _, err = svc.Verify(ctx, admin)
	if err != nil || b == nil || b.Seq != 3 {
		t.Fatalf("after deleting record 2: %+v %v", b, err)
	}
}

type memObjects map[string][]byte

func (m memObjects) Put(_ context.Context, key string, data []byte, _ string) error {
	m[key] = data
	return nil
}

func TestArchiver_WritesBatchesInOrderAndRefusesABrokenChain(t *testing.T) {
	pool := pgtest.New(t, postgres.Migrations{FS: migrations.FS, Table: "goose_audit"})
	ctx := context.Background()
	store := adapters.PostgresRecords{Pool: pool}
	for i := 0; i < 5; i++ {
		if _, err := store.Append(ctx, rec("e")); err != nil {
			t.Fatal(err)
		}
	}
	objects := memObjects{}
	a := app.Archiver{Store: store, Objects: objects, MaxRecords: 3, Now: time.Now}
	b1, err := a.ArchiveOnce(ctx)
	if err != nil || b1 == nil || b1.FirstSeq != 1 || b1.LastSeq != 3 || b1.Count != 3 || b1.FirstPrevHash != nil {
		t.Fatalf("first batch %+v %v", b1, err)
	}
	b2, err := a.ArchiveOnce(ctx)
	if err != nil || b2 == nil || b2.FirstSeq != 4 || b2.LastSeq != 5 || string(b2.FirstPrevHash) != string(b1.LastHash) {
		t.Fatalf("second batch %+v %v", b2, err)
	}
	if b3, err := a.ArchiveOnce(ctx); b3 != nil || err != nil {
		t.Fatalf("nothing left, got %+v %v", b3, err)
	}
	if len(objects) != 4 {
		t.Fatalf("%d objects, want two batches with a manifest each", len(objects))
	}
	if _, err := store.Append(ctx, rec("f")); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only;
		UPDATE audit_records SET actor = 'mallory' WHERE seq = 6`); err != nil {
		t.Fatal(err)
	}
	if b, err := a.ArchiveOnce(ctx); err == nil || b != nil {
		t.Fatalf("a tampered record was archived: %+v", b)
	}
}
