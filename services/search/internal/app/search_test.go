package app

import (
	"testing"
	"time"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/search/internal/index"
)

// Dates the indexes cannot hold are refused as bad input, not a 500 (found by schemathesis).
func TestQuery_CreatedRange(t *testing.T) {
	at := func(y int) time.Time { return time.Date(y, 7, 20, 18, 6, 29, 0, time.FixedZone("", 3*3600+13*60)) }
	cases := []struct {
		name     string
		from, to time.Time
		field    string
	}{
		{"none", time.Time{}, time.Time{}, ""},
		{"this year", at(2026), time.Time{}, ""},
		{"the year 598", at(598), time.Time{}, "created_from"},
		{"the year 9999", time.Time{}, at(9999), "created_to"},
		{"reversed", at(2026), at(2025), "created_to"},
	}
	for _, tc := range cases {
		_, err := Request{CreatedFrom: tc.from, CreatedTo: tc.to}.query(index.Viewer{})
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if e := errs.As(err); e.Code != "search.created_range_invalid" || e.Field != tc.field {
			t.Errorf("%s: %v, want search.created_range_invalid on %s", tc.name, err, tc.field)
		}
	}
}
