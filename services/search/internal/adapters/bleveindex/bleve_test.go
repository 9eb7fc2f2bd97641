package bleveindex

import (
	"testing"

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
