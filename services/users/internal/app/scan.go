package app

import (
	"context"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/keyset"
)

// Scan pages through every account that is not erased, by id, for platform services that rebuild a
// read model.
func (s *Service) Scan(ctx context.Context, c caller.Caller, pageToken string, pageSize int) ([]Scanned, string, error) {
	if !c.IsSystem() {
		return nil, "", errs.PermissionDenied("auth.system_only", "only platform services may scan every account")
	}
	return keyset.Page(ctx, errs.Invalid("user.page_size_invalid", "page_size", ""),
		errs.Invalid("user.page_token_invalid", "page_token", "page_token is not one this service issued"), pageToken, pageSize, keyset.Limits{Default: 100, Max: 500}, s.Users.Scan,
		func(u Scanned) string { return u.ID })
}
