package bleveindex

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/blevesearch/bleve/v2"

	"github.com/acme/platform/services/search/internal/index"
	"github.com/acme/platform/services/search/internal/index/indextest"
)

func TestConformance_InMemory(t *testing.T) {
	indextest.Run(t, func(t *testing.T) index.Index {
		x, err := Open("")
		if err != nil {
			t.Fatal(err)
		}
		return x
	})
}

func TestConformance_OnDisk(t *testing.T) {
	indextest.Run(t, func(t *testing.T) index.Index {
		x, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return x
	})
}

// An index on disk made by a build with an older mapping is reported outdated (and still opened, so
// queries are answered while it is rebuilt); a rebuild swaps in one with the current mapping.
func TestOutdated_UntilARebuild(t *testing.T) {
	dir := t.TempDir()
	old, err := bleve.New(filepath.Join(dir, "index-old"), bleve.NewIndexMapping()) // no mapping version recorded
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "CURRENT"), []byte("index-old"), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !x.Outdated() {
		t.Fatal("an index without the current mapping version is not outdated")
	}
	b, err := x.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Swap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if x.Outdated() {
		t.Fatal("still outdated after the rebuild")
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = Open(dir); err != nil || x.Outdated() {
		t.Fatalf("reopened after the rebuild: outdated %v, %v", x != nil && x.Outdated(), err)
	}
	_ = x.Close()
	if x, err = Open(t.TempDir()); err != nil || x.Outdated() {
		t.Fatalf("a new index: %v", err)
	}
	_ = x.Close()
}
