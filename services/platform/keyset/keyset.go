// Package keyset pages through rows by id, the way the scan APIs that read models rebuild from do:
// each page asks for the rows after the last id of the previous one, so a page costs the same
// however deep it is, and rows written meanwhile are neither skipped nor repeated.
package keyset

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/errs"
)

// Limits bound the page size; Default is used for 0.
type Limits struct{ Default, Max int }

// Page checks the page token (the previous page's last id) and size, reads size+1 rows after the
// token with fetch, and returns at most size of them and the next token ("" on the last page).
// A size out of bounds answers badSize, a token that is no id badToken (the caller's, with its
// service's codes).
func Page[T any](ctx context.Context, badSize, badToken *errs.Error, token string, size int, l Limits,
	fetch func(ctx context.Context, afterID string, limit int) ([]T, error), id func(T) string) ([]T, string, error) {
	switch {
	case size == 0:
		size = l.Default
	case size < 1 || size > l.Max:
		e := *badSize
		e.Message = fmt.Sprintf("page_size must be between 1 and %d", l.Max)
		return nil, "", &e
	}
	if token != "" {
		if _, err := uuid.Parse(token); err != nil {
			return nil, "", badToken
		}
	}
	rows, err := fetch(ctx, token, size+1)
	if err != nil {
		return nil, "", err
	}
	if len(rows) <= size {
		return rows, "", nil
	}
	rows = rows[:size]
	return rows, id(rows[size-1]), nil
}
