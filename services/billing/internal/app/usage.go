package app

import (
	"context"

	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/events"
)

// CountProjectEvent turns one project event into usage, once: the event id is recorded in the
// transaction that changes the counts, so a redelivery counts nothing. A project counts in the usage
// of the account that created it; a file's bytes in that of the account its upload named.
func (s *Service) CountProjectEvent(ctx context.Context, e events.Envelope) (bool, error) {
	counted := false
	err := s.Store.InTx(ctx, func(tx Tx) error {
		first, err := tx.FirstUsageEvent(ctx, e.EventID)
		if err != nil || !first {
			return err
		}
		counted = true
		switch p := e.Payload.(type) {
		case events.ProjectCreated:
			if err := tx.PutProjectAccount(ctx, p.ProjectID, p.OwnerID, 1); err != nil {
				return err
			}
			if err := tx.AddUsage(ctx, p.OwnerID, billing.MeterProjects, 1); err != nil {
				return err
			}
			return tx.AddUsage(ctx, p.OwnerID, billing.MeterMembers, 1)
		case events.MemberChanged:
			delta := map[string]int64{"project.member_added": 1, "project.member_removed": -1}[e.Type]
			if delta == 0 {
				return nil
			}
			account, members, ok, err := tx.ProjectAccount(ctx, p.ProjectID)
			if err != nil || !ok {
				return err
			}
			if err := tx.PutProjectAccount(ctx, p.ProjectID, account, members+delta); err != nil {
				return err
			}
			return tx.AddUsage(ctx, account, billing.MeterMembers, delta)
		case events.FileEvent:
			delta := map[string]int64{"file.uploaded": p.SizeBytes, "file.deleted": -p.SizeBytes}[e.Type]
			return tx.AddUsage(ctx, p.AccountID, billing.MeterStorageBytes, delta)
		case events.ProjectDeleted:
			account, members, ok, err := tx.ProjectAccount(ctx, p.ProjectID)
			if err != nil || !ok {
				return err
			}
			if err := tx.DeleteProjectAccount(ctx, p.ProjectID); err != nil {
				return err
			}
			if err := tx.AddUsage(ctx, account, billing.MeterProjects, -1); err != nil {
				return err
			}
			return tx.AddUsage(ctx, account, billing.MeterMembers, -members)
		}
		return nil
	})
	return counted, err
}
