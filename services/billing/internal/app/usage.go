package app

import (
	"context"

	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/events"
)

// CountProjectEvent turns one project event into usage, once: the event id is recorded in the
// transaction that changes the counts, so a redelivery counts nothing. A project, its members and its
// files' bytes count in the usage of its owner's account, and move to the new owner's on a transfer.
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
			if err := tx.PutProjectAccount(ctx, p.ProjectID, billing.ProjectUsage{AccountID: p.OwnerID, Members: 1}); err != nil {
				return err
			}
			return addAll(ctx, tx, p.OwnerID, map[string]int64{billing.MeterProjects: 1, billing.MeterMembers: 1}, 1)
		case events.MemberChanged:
			u, ok, err := tx.ProjectAccount(ctx, p.ProjectID)
			if err != nil || !ok {
				return err
			}
			if e.Type == "project.member_role_changed" && p.Role == "owner" && p.UserID != u.AccountID {
				// A new owner: the project's whole usage moves to their account.
				if err := addAll(ctx, tx, u.AccountID, u.Usage(), -1); err != nil {
					return err
				}
				if err := addAll(ctx, tx, p.UserID, u.Usage(), 1); err != nil {
					return err
				}
				u.AccountID = p.UserID
				return tx.PutProjectAccount(ctx, p.ProjectID, u)
			}
			delta := map[string]int64{"project.member_added": 1, "project.member_removed": -1}[e.Type]
			if delta == 0 {
				return nil
			}
			u.Members += delta
			if err := tx.PutProjectAccount(ctx, p.ProjectID, u); err != nil {
				return err
			}
			return tx.AddUsage(ctx, u.AccountID, billing.MeterMembers, delta)
		case events.FileEvent:
			delta := map[string]int64{"file.uploaded": p.SizeBytes, "file.deleted": -p.SizeBytes}[e.Type]
			u, ok, err := tx.ProjectAccount(ctx, p.ProjectID)
			if err != nil {
				return err
			}
			if !ok { // a project billing does not know (deleted): the account the upload named
				return tx.AddUsage(ctx, p.AccountID, billing.MeterStorageBytes, delta)
			}
			u.StorageBytes = max(u.StorageBytes+delta, 0)
			if err := tx.PutProjectAccount(ctx, p.ProjectID, u); err != nil {
				return err
			}
			return tx.AddUsage(ctx, u.AccountID, billing.MeterStorageBytes, delta)
		case events.ProjectDeleted:
			// Its files' bytes leave with their own file.deleted events (files removes them).
			u, ok, err := tx.ProjectAccount(ctx, p.ProjectID)
			if err != nil || !ok {
				return err
			}
			if err := tx.DeleteProjectAccount(ctx, p.ProjectID); err != nil {
				return err
			}
			return addAll(ctx, tx, u.AccountID, map[string]int64{billing.MeterProjects: 1, billing.MeterMembers: u.Members}, -1)
		}
		return nil
	})
	return counted, err
}

// addAll adds sign times each meter's count to account's usage.
func addAll(ctx context.Context, tx Tx, account string, counts map[string]int64, sign int64) error {
	for _, meter := range []string{billing.MeterProjects, billing.MeterMembers, billing.MeterStorageBytes} {
		if n := counts[meter]; n != 0 {
			if err := tx.AddUsage(ctx, account, meter, sign*n); err != nil {
				return err
			}
		}
	}
	return nil
}
