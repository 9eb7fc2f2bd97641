package esindex

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acme/platform/deploy/local/searchnode"
	"github.com/acme/platform/services/search/internal/index"
	"github.com/acme/platform/services/search/internal/index/indextest"
)

var seq atomic.Int64

// TestConformance runs the suite against a real server: the Elasticsearch at ELASTICSEARCH_URL where
// one is named, otherwise an OpenSearch node of the test's own (Elasticsearch 8 is not obtainable on
// this project's machines; OpenSearch is, from Maven Central).
func TestConformance(t *testing.T) {
	url := os.Getenv("ELASTICSEARCH_URL")
	if url == "" {
		node, err := searchnode.Start(searchnode.Options{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Close)
		url = node.URL
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
