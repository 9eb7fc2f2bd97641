package esindex

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/platform/services/search/internal/index"
	"github.com/acme/platform/services/search/internal/index/indextest"
)

var seq atomic.Int64

// TestConformance runs the suite against the Elasticsearch server at ELASTICSEARCH_URL. This
// project's machines have none, so make test reports this test as skipped, never as passed.
func TestConformance(t *testing.T) {
	url := os.Getenv("ELASTICSEARCH_URL")
	if url == "" {
		t.Skip("ELASTICSEARCH_URL is not set: no Elasticsearch server to run the conformance suite against")
	}
	indextest.Run(t, func(t *testing.T) index.Index {
		ctx := context.Background()
		alias := fmt.Sprintf("acme-search-test-%d-%d", time.Now().UnixNano(), seq.Add(1))
		x, err := Open(ctx, url, alias)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = x.Drop(ctx) })
		return x
	})
}

func TestTemplate_TargetsTheAliasIndexes(t *testing.T) {
	x := &Index{alias: "acme-search"}
	if got := string(x.templateFor("acme-search")); !strings.Contains(got, `"index_patterns":["acme-search-*"]`) || !strings.Contains(got, `"dynamic":"strict"`) {
		t.Errorf("template: %s", got)
	}
}
