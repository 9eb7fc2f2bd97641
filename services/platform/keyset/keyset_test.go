package keyset

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/acme/platform/services/platform/errs"
)

func TestPage_WalksEveryRowOnceAndChecksItsInput(t *testing.T) {
	var all []string
	for i := range 7 {
		all = append(all, fmt.Sprintf("00000000-0000-0000-0000-00000000000%d", i))
	}
	fetch := func(_ context.Context, after string, limit int) ([]string, error) {
		i, _ := slices.BinarySearch(all, after)
		if after != "" && i < len(all) && all[i] == after {
			i++
		}
		return all[i:min(i+limit, len(all))], nil
	}
	id := func(s string) string { return s }
	badSize, badToken := errs.Invalid("x.page_size_invalid", "page_size", ""), errs.Invalid("x.page_token_invalid", "page_token", "")
	var got []string
	token := ""
	for range 10 {
		rows, next, err := Page(context.Background(), badSize, badToken, token, 3, Limits{Default: 2, Max: 5}, fetch, id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
		if token = next; token == "" {
			break
		}
	}
	if !slices.Equal(got, all) {
		t.Errorf("pages gave %v", got)
	}
	for _, tc := range []struct {
		token string
		size  int
		code  string
	}{{"", 6, "x.page_size_invalid"}, {"", -1, "x.page_size_invalid"}, {"nope", 1, "x.page_token_invalid"}} {
		if _, _, err := Page(context.Background(), badSize, badToken, tc.token, tc.size, Limits{Default: 2, Max: 5}, fetch, id); errs.As(err).Code != tc.code {
			t.Errorf("token %q size %d: %v, want %s", tc.token, tc.size, err, tc.code)
		}
	}
}
