package httpapi

import (
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	for in, want := range map[string][2]any{"20/m": {20, time.Minute}, "600/1m": {600, time.Minute},
		"5/10s": {5, 10 * time.Second}, " 1/h ": {1, time.Hour}} {
		l, err := ParseLimit(in)
		if err != nil || l.Rate != want[0].(int) || l.Burst != l.Rate || l.Period != want[1].(time.Duration) {
			t.Errorf("%q: %+v %v", in, l, err)
		}
	}
	for _, bad := range []string{"", "20", "0/m", "-1/m", "x/m", "5/", "5/fortnight", "5/-1s"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
