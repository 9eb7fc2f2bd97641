package bleveindex

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/acme/platform/services/search/internal/index"
)

// benchIndex holds 5,000 projects of 50 owners, a third of each visibility, each with 3 members,
// on disk as make run keeps it (scorch).
func benchIndex(b *testing.B) *Index {
	b.Helper()
	x, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	vis := []string{index.Public, index.Internal, index.Private}
	var docs []index.Document
	for i := range 5000 {
		owner := fmt.Sprintf("owner-%02d", i%50)
		docs = append(docs, index.Document{ID: fmt.Sprintf("p%05d", i), Type: index.TypeProject,
			Title: fmt.Sprintf("Project %d platform tooling", i), Description: "Shared tooling for team " + owner,
			Tags: []string{fmt.Sprintf("t%d", i%20), "go"}, Visibility: vis[i%3], OwnerID: owner,
			Members:   []string{owner, fmt.Sprintf("m-%d", i%97), fmt.Sprintf("m-%d", i%89)},
			CreatedAt: time.Unix(int64(i)*60, 0), Version: 1})
		if len(docs) == 500 {
			if err := x.Put(context.Background(), docs...); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	b.Cleanup(func() { _ = x.Close() })
	return x
}

// BenchmarkSearch compares a typo-tolerant query as a member (permissions in the query) with the
// same query as a platform admin (no permission clause): the baseline of the ratio.
//
//	go test -run '^$' -bench Search -benchtime 200x ./services/search/internal/adapters/bleveindex
func BenchmarkSearch(b *testing.B) {
	x := benchIndex(b)
	for _, v := range []struct {
		name   string
		viewer index.Viewer
	}{{"admin_baseline", index.Viewer{UserID: "owner-01", Admin: true}}, {"member_with_permissions", index.Viewer{UserID: "m-5"}}, {"anonymous", index.Viewer{}}} {
		b.Run(v.name, func(b *testing.B) {
			q := index.Query{Viewer: v.viewer, Text: "platfrom tooling", Size: 20}
			for b.Loop() {
				if _, err := x.Search(context.Background(), q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
