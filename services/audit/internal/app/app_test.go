package app

import (
	"context"
	"testing"
	"time"

	"github.com/acme/platform/services/audit/internal/domain/record"
	"github.com/acme/platform/services/platform/caller"
)

// chainStore keeps a chain in memory, as the PostgreSQL adapter does in its table.
type chainStore struct {
	recs          []record.Record
	prevs, hashes [][]byte
}

func (m *chainStore) Append(_ context.Context, r record.Record) (bool, error) {
	var prev []byte
	if n := len(m.hashes); n > 0 {
		prev = m.hashes[n-1]
	}
	r.Seq = int64(len(m.recs) + 1)
	m.recs, m.prevs, m.hashes = append(m.recs, r), append(m.prevs, prev), append(m.hashes, record.Hash(prev, r))
	return true, nil
}

func (m *chainStore) List(context.Context, record.Filter) ([]record.Record, error) {
	return m.recs, nil
}

func (m *chainStore) Walk(_ context.Context, fn func(record.Record, []byte, []byte) error) error {
	for i, r := range m.recs {
		if err := fn(r, m.prevs[i], m.hashes[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *chainStore) ChainUnchained(context.Context, func([]byte, record.Record) []byte) (int, error) {
	return 0, nil
}

func chainOf(n int) *chainStore {
	m := &chainStore{}
	for i := range n {
		_, _ = m.Append(context.Background(), record.Record{EventID: string(rune('a' + i)), Type: "t", Subject: "s",
			OccurredAt: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)})
	}
	return m
}

var admin = caller.Caller{UserID: "root", Roles: []string{"admin"}}

func TestVerify_FindsTheFirstBreakOverTheStoresWalk(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		breakIt func(*chainStore)
		at      int64 // 0: intact
	}{
		{"intact", func(*chainStore) {}, 0},
		{"a record altered", func(m *chainStore) { m.recs[2].Outcome = "denied" }, 3},
		{"a record removed", func(m *chainStore) {
			m.recs, m.prevs, m.hashes = append(m.recs[:1:1], m.recs[2:]...), append(m.prevs[:1:1], m.prevs[2:]...), append(m.hashes[:1:1], m.hashes[2:]...)
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := chainOf(5)
			tc.breakIt(m)
			b, checked, err := Service{Store: m}.Verify(ctx, admin)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.at == 0 && (b != nil || checked != 5):
				t.Fatalf("an intact chain: break %+v after %d", b, checked)
			case tc.at != 0 && (b == nil || b.Seq != tc.at):
				t.Fatalf("break %+v, want at %d", b, tc.at)
			}
		})
	}
	if _, _, err := (Service{Store: chainOf(1)}).Verify(ctx, caller.Caller{UserID: "u"}); err == nil {
		t.Fatal("a non-admin verified the chain")
	}
}
