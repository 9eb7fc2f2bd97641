package adapters_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/files/internal/adapters"
	"github.com/acme/platform/services/files/internal/app"
	"github.com/acme/platform/services/files/internal/domain/file"
	"github.com/acme/platform/services/files/migrations"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/postgres/pgtest"
)

func newStore(t *testing.T) adapters.Postgres {
	t.Helper()
	pool := pgtest.New(t, outbox.Migrations(), postgres.Migrations{FS: migrations.FS, Table: "goose_files"})
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return adapters.Postgres{Pool: pool, Outbox: outbox.NewWriter(codec)}
}

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func put(t *testing.T, st adapters.Postgres, f file.File) file.File {
	t.Helper()
	if f.ID == "" {
		f.ID = uuid.NewString()
	}
	if f.ProjectID == "" {
		f.ProjectID = "5f0b6c1e-0000-4000-8000-000000000001"
	}
	f.OwnerID, f.Name = "5f0b6c1e-0000-4000-8000-0000000000aa", "f.bin"
	if f.AccountID == "" {
		f.AccountID = f.OwnerID
	}
	if err := st.Insert(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	return f
}

// Abandoned finds synchronous uploads by one age and resumable ones by another (the bug make run
// showed: the two cutoffs went to PostgreSQL untyped and the query failed).
func TestAbandoned_TwoAges(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	oldSync := put(t, st, file.File{State: file.Quarantined, CreatedAt: t0.Add(-2 * time.Hour)})
	put(t, st, file.File{State: file.Quarantined, CreatedAt: t0.Add(-2 * time.Hour), UploadID: "x+1"}) // resumable, young enough
	oldResumable := put(t, st, file.File{State: file.Quarantined, CreatedAt: t0.Add(-30 * time.Hour), UploadID: "y+2"})
	put(t, st, file.File{State: file.Clean, CreatedAt: t0.Add(-30 * time.Hour)})
	got, err := st.Abandoned(ctx, t0.Add(-time.Hour), t0.Add(-24*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, f := range got {
		ids[f.ID] = true
	}
	if len(got) != 2 || !ids[oldSync.ID] || !ids[oldResumable.ID] {
		t.Fatalf("abandoned: %+v", got)
	}
}

func TestUnfinishedAndReassign(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	done := put(t, st, file.File{State: file.Quarantined, CreatedAt: t0, UploadID: "a+1", Size: 10})
	put(t, st, file.File{State: file.Quarantined, CreatedAt: t0, UploadID: "b+1", Size: 10})
	if err := st.SetReceived(ctx, done.ID, 10); err != nil {
		t.Fatal(err)
	}
	got, err := st.Unfinished(ctx, 10)
	if err != nil || len(got) != 1 || got[0].ID != done.ID || got[0].Received != 10 {
		t.Fatalf("unfinished: %+v %v", got, err)
	}
	n, err := st.Reassign(ctx, done.ProjectID, "5f0b6c1e-0000-4000-8000-0000000000bb")
	if err != nil || n != 2 {
		t.Fatalf("reassigned %d %v", n, err)
	}
	if used, _ := st.UsedBytes(ctx, "5f0b6c1e-0000-4000-8000-0000000000bb"); used != 20 {
		t.Fatalf("the new account uses %d", used)
	}
}

// Scan walks every clean file once, in id order, a page at a time; quarantined and infected files
// are not listed, and only platform services may scan.
func TestScan_CleanFilesOnlyPageByPage(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	svc := &app.Service{Store: st}
	want := map[string]bool{}
	for i := range 5 {
		want[put(t, st, file.File{State: file.Clean, CreatedAt: t0.Add(time.Duration(i) * time.Minute)}).ID] = true
	}
	put(t, st, file.File{State: file.Quarantined, CreatedAt: t0})
	put(t, st, file.File{State: file.Infected, CreatedAt: t0})
	system := caller.Caller{UserID: caller.SystemPrefix + "search"}
	var got []string
	token, pages := "", 0
	for {
		fs, next, err := svc.Scan(ctx, system, token, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range fs {
			got = append(got, f.ID)
		}
		if token = next; token == "" {
			break
		}
	}
	if len(got) != 5 || pages != 3 || !slices.IsSorted(got) {
		t.Fatalf("scanned %v in %d pages", got, pages)
	}
	for _, id := range got {
		if !want[id] {
			t.Fatalf("scanned %s, which is not clean", id)
		}
	}
	if _, _, err := svc.Scan(ctx, caller.Caller{UserID: uuid.NewString()}, "", 10); errs.As(err).Kind != errs.KindPermissionDenied {
		t.Fatalf("a user scanned: %v", err)
	}
	for _, bad := range []struct {
		token string
		size  int
		code  string
	}{{"", 501, "files.page_size_invalid"}, {"", -1, "files.page_size_invalid"}, {"not-an-id", 10, "files.page_token_invalid"}} {
		if _, _, err := svc.Scan(ctx, system, bad.token, bad.size); errs.As(err).Code != bad.code {
			t.Errorf("scan(%q, %d): %v, want %s", bad.token, bad.size, err, bad.code)
		}
	}
}

// One holder of an upload's lock at a time, across connections: 200 rounds of two racing holders.
// Whoever gets in stays inside until the other's attempt has ended, so the other always tries while
// the lock is held and must be refused; were both let in, each would wait for the other until the
// deadline and the round would fail. A waiting finish gets in once the holder leaves.
func TestExclusive_OneHolderAcrossConnections(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	for round := 0; round < 200; round++ {
		var mu sync.Mutex
		inside, overlaps, refused := 0, 0, 0
		returned := make(chan struct{})
		var once sync.Once
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := st.Exclusive(ctx, "upload:r", 0, func(context.Context) error {
					mu.Lock()
					inside++
					if inside > 1 {
						overlaps++
					}
					mu.Unlock()
					select { // hold the lock until the other attempt has ended
					case <-returned:
					case <-time.After(5 * time.Second):
					}
					mu.Lock()
					inside--
					mu.Unlock()
					return nil
				})
				if errs.As(err).Code == "uploads.locked" {
					mu.Lock()
					refused++
					mu.Unlock()
				} else if err != nil {
					t.Error(err)
				}
				once.Do(func() { close(returned) })
			}()
		}
		wg.Wait()
		if overlaps > 0 || refused != 1 {
			t.Fatalf("round %d: %d overlaps, %d refused, want 0 and 1", round, overlaps, refused)
		}
	}
	held := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = st.Exclusive(ctx, "upload:w", 0, func(context.Context) error { close(held); <-release; return nil })
	}()
	<-held
	finished := make(chan error, 1)
	go func() {
		finished <- st.Exclusive(ctx, "upload:w", 5*time.Second, func(context.Context) error { return nil })
	}()
	// The finish is queued behind the holder (PostgreSQL shows its lock not granted); then the holder leaves.
	for deadline := time.Now().Add(5 * time.Second); ; {
		var waiting int
		if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the finish never waited for the lock")
		}
	}
	close(release)
	if err := <-finished; err != nil {
		t.Fatalf("a waiting finish: %v", err)
	}
	if err := st.Exclusive(ctx, "upload:w", 0, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("the lock was not released: %v", err)
	}
}
