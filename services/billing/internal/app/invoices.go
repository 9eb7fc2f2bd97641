package app

import (
	"context"
	"time"

	"github.com/acme/platform/services/platform/jobs"
	"github.com/acme/platform/services/platform/server"
	"github.com/google/uuid"
)

// CloseDue closes every billing period that ended by now: an invoice per subscription (plan price,
// overage from usage, proration), stored with its lines and published, in one transaction per batch.
// Replicas may run it at once: each locks the subscriptions it closes and skips those another holds,
// and an invoice is unique per account and period. It returns how many invoices it made.
func (s *Service) CloseDue(ctx context.Context) (int, error) {
	made := 0
	for {
		n := 0
		err := s.Store.InTx(ctx, func(tx Tx) error {
			now := s.now()
			due, err := tx.DueSubscriptions(ctx, now, 20)
			if err != nil {
				return err
			}
			for _, sub := range due {
				plan, err := s.plan(ctx, sub.Plan)
				if err != nil {
					return err
				}
				usage, err := tx.Usage(ctx, sub.AccountID)
				if err != nil {
					return err
				}
				inv, evs, ok := sub.ClosePeriod(uuid.NewString(), plan, usage, now, s.Period)
				if !ok {
					continue
				}
				if err := tx.SaveInvoice(ctx, inv); err != nil {
					return err
				}
				if err := tx.SaveSubscription(ctx, sub); err != nil {
					return err
				}
				if err := tx.Publish(ctx, published("system:billing", now, evs)...); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		made += n
		if err != nil || n == 0 {
			return made, err
		}
	}
}

// Mirror puts invoices that are not yet in Stripe there (their lines as invoice items), and reports
// each metered meter's usage for the period, each call with a key per invoice (and meter), so a
// retry after a crash creates nothing twice.
func (s *Service) Mirror(ctx context.Context) (int, error) {
	invs, err := s.Store.Unmirrored(ctx, 50)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, inv := range invs {
		sub, ok, err := s.Store.Subscription(ctx, inv.AccountID)
		if err != nil {
			return done, err
		}
		if !ok || sub.StripeCustomerID == "" {
			continue
		}
		for _, l := range inv.Lines {
			if l.Meter == "" {
				continue
			}
			key := "acme-usage-" + inv.AccountID + "-" + inv.PeriodStart.UTC().Format(time.RFC3339) + "-" + l.Meter
			if err := s.Stripe.ReportUsage(ctx, sub.StripeCustomerID, l.Meter, l.Quantity, inv.PeriodEnd, key); err != nil {
				return done, err
			}
		}
		id, err := s.Stripe.MirrorInvoice(ctx, sub.StripeCustomerID, inv, "acme-invoice-"+inv.ID)
		if err != nil {
			return done, err
		}
		if err := s.Store.SetMirrored(ctx, inv.ID, id); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// RunInvoicing closes due periods and mirrors invoices every interval until ctx ends.
func (s *Service) RunInvoicing(ctx context.Context, interval time.Duration) error {
	return server.Every(ctx, interval, func(ctx context.Context) {
		if items, err := jobs.Pass(ctx, "billing.close_periods", func(ctx context.Context) (jobs.Items, error) {
			n, err := s.CloseDue(ctx)
			return jobs.Items{"invoiced": n}, err
		}); err != nil {
			s.Log.ErrorContext(ctx, "closing billing periods", "error", err)
		} else if items["invoiced"] > 0 {
			s.Log.InfoContext(ctx, "invoices made", "invoices", items["invoiced"])
		}
		if _, err := jobs.Pass(ctx, "billing.mirror_invoices", func(ctx context.Context) (jobs.Items, error) {
			n, err := s.Mirror(ctx)
			return jobs.Items{"mirrored": n}, err
		}); err != nil {
			s.Log.ErrorContext(ctx, "mirroring invoices to Stripe", "error", err)
		}
	})
}

// Reconcile asks Stripe for the status of every live subscription and repairs ours where they
// differ (a lost webhook). It returns how many it checked and repaired.
func (s *Service) Reconcile(ctx context.Context) (checked, repaired int, err error) {
	subs, err := s.Store.LiveSubscriptions(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, sub := range subs {
		status, err := s.Stripe.SubscriptionStatus(ctx, sub.StripeSubscriptionID)
		if err != nil {
			return checked, repaired, err
		}
		checked++
		err = s.Store.InTx(ctx, func(tx Tx) error {
			locked, ok, err := tx.LockSubscription(ctx, sub.AccountID)
			if err != nil || !ok || locked.StripeSubscriptionID != sub.StripeSubscriptionID {
				return err
			}
			changed, evs := locked.Reconcile(status)
			if !changed {
				return nil
			}
			repaired++
			s.Log.WarnContext(ctx, "subscription repaired from Stripe", "account_id", sub.AccountID, "from", sub.Status, "to", status)
			if err := tx.SaveSubscription(ctx, locked); err != nil {
				return err
			}
			return tx.Publish(ctx, published("system:billing", s.now(), evs)...)
		})
		if err != nil {
			return checked, repaired, err
		}
	}
	return checked, repaired, nil
}

// RunReconciliation reconciles every interval until ctx ends (the first time after one interval).
func (s *Service) RunReconciliation(ctx context.Context, interval time.Duration) error {
	first := true
	return server.Every(ctx, interval, func(ctx context.Context) {
		if first {
			first = false
			return
		}
		if items, err := jobs.Pass(ctx, "billing.reconcile", func(ctx context.Context) (jobs.Items, error) {
			checked, repaired, err := s.Reconcile(ctx)
			return jobs.Items{"checked": checked, "repaired": repaired}, err
		}); err != nil {
			s.Log.ErrorContext(ctx, "reconciling with Stripe", "error", err)
		} else if items["repaired"] > 0 {
			s.Log.InfoContext(ctx, "reconciled with Stripe", "checked", items["checked"], "repaired", items["repaired"])
		}
	})
}
