package app

import (
	"context"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
)

// Scan pages through every project, by id, for platform services that rebuild a read model. The
// page token is the last id of the previous page.
func (s *Service) Scan(ctx context.Context, c caller.Caller, pageToken string, pageSize int) ([]Scanned, string, error) {
	if !c.IsSystem() {
		return nil, "", errs.PermissionDenied("auth.system_only", "only platform services may scan every project")
	}
	switch {
	case pageSize == 0:
		pageSize = 100
	case pageSize < 1 || pageSize > 500:
		return nil, "", errs.Invalid("project.page_size_invalid", "page_size", "page_size must be between 1 and 500")
	}
	if pageToken != "" {
		if _, err := uuid.Parse(pageToken); err != nil {
			return nil, "", errBadCursor
		}
	}
	rows, err := s.Store.Scan(ctx, pageToken, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > pageSize {
		rows = rows[:pageSize]
		next = rows[pageSize-1].Project.ID
	}
	return rows, next, nil
}
