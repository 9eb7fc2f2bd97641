// Package app holds the billing use cases. Stripe is called outside database transactions, each
// POST with an idempotency key derived from our own operation id; what Stripe answered is then
// written in one transaction with the events it causes (outbox).
package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/outbox"
)

// Store reads billing's database and runs transactions on it.
type Store interface {
	InTx(ctx context.Context, fn func(Tx) error) error
	Plans(ctx context.Context) ([]billing.Plan, error)
	Subscription(ctx context.Context, accountID string) (billing.Subscription, bool, error)
	Usage(ctx context.Context, accountID string) (map[string]int64, error)
	Invoices(ctx context.Context, accountID string) ([]billing.Invoice, error)
	Invoice(ctx context.Context, accountID, id string) (billing.Invoice, error)
	// LiveSubscriptions lists subscriptions Stripe holds (with a Stripe id) that are not canceled.
	LiveSubscriptions(ctx context.Context) ([]billing.Subscription, error)
	// Unmirrored lists invoices not yet in Stripe, or whose usage is not yet reported, oldest first.
	Unmirrored(ctx context.Context, limit int) ([]billing.Invoice, error)
	SetMirrored(ctx context.Context, invoiceID, stripeInvoiceID string) error
}

// Tx is one transaction's view of the store.
type Tx interface {
	// LockSubscription reads the account's subscription and holds the account (whether or not it has
	// one yet) until the transaction ends.
	LockSubscription(ctx context.Context, accountID string) (billing.Subscription, bool, error)
	LockSubscriptionByStripeID(ctx context.Context, stripeID string) (billing.Subscription, bool, error)
	SaveSubscription(ctx context.Context, s billing.Subscription) error
	// Operation is what an earlier call with operationID answered.
	Operation(ctx context.Context, accountID, operationID string) (json.RawMessage, bool, error)
	// SaveOperation records an operation's answer; false when a concurrent retry recorded it first.
	SaveOperation(ctx context.Context, accountID, operationID, kind string, response any) (bool, error)
	// FirstStripeEvent records a Stripe event id and reports whether it is new.
	FirstStripeEvent(ctx context.Context, id, typ string, created time.Time, outcome string) (bool, error)
	SetStripeEventOutcome(ctx context.Context, id, outcome string) error
	LockInvoiceByStripeID(ctx context.Context, stripeID string) (billing.Invoice, bool, error)
	SaveInvoice(ctx context.Context, inv billing.Invoice) error
	// FirstUsageEvent records an event id and reports whether it is new.
	FirstUsageEvent(ctx context.Context, eventID string) (bool, error)
	AddUsage(ctx context.Context, accountID, meter string, delta int64) error
	ProjectAccount(ctx context.Context, projectID string) (u billing.ProjectUsage, ok bool, err error)
	PutProjectAccount(ctx context.Context, projectID string, u billing.ProjectUsage) error
	DeleteProjectAccount(ctx context.Context, projectID string) error
	// DueSubscriptions locks up to limit live subscriptions whose period ended by now, skipping
	// those another replica holds.
	DueSubscriptions(ctx context.Context, now time.Time, limit int) ([]billing.Subscription, error)
	Usage(ctx context.Context, accountID string) (map[string]int64, error)
	Publish(ctx context.Context, evs ...outbox.Event) error
}

// Stripe is what billing asks of Stripe. Every call that changes something takes an idempotency key.
type Stripe interface {
	CreateCustomer(ctx context.Context, accountID, email, key string) (string, error)
	CreateSubscription(ctx context.Context, customerID, priceID, accountID, key string) (string, error)
	ChangePrice(ctx context.Context, subscriptionID, priceID, key string) error
	SetCancelAtPeriodEnd(ctx context.Context, subscriptionID string, cancel bool, key string) error
	// CancelNow ends a subscription at once (one created for an operation that then lost a race).
	CancelNow(ctx context.Context, subscriptionID, key string) error
	// SubscriptionStatus is Stripe's status of the subscription now.
	SubscriptionStatus(ctx context.Context, subscriptionID string) (string, error)
	// MirrorInvoice creates the invoice in Stripe, its lines as invoice items, and returns its id.
	MirrorInvoice(ctx context.Context, customerID string, inv billing.Invoice, key string) (string, error)
	// ReportUsage sends a meter's value for a period to Stripe's metered billing.
	ReportUsage(ctx context.Context, customerID, meter string, value int64, at time.Time, key string) error
	// ParseWebhook verifies a delivery's signature and timestamp and reads the event.
	ParseWebhook(payload []byte, signature string) (WebhookEvent, error)
}

// WebhookEvent is what billing reads of a Stripe event.
type WebhookEvent struct {
	ID      string
	Type    string
	Created time.Time
	// customer.subscription.*
	SubscriptionID    string
	Status            string
	CancelAtPeriodEnd bool
	// invoice.*
	InvoiceID    string
	AttemptCount int64
}

// Users gives the billing e-mail and region of an account (through Dapr, from users).
type Users interface {
	Contact(ctx context.Context, userID string) (email, region string, err error)
}

// Service is the billing use cases.
type Service struct {
	Store  Store
	Stripe Stripe
	Users  Users
	Log    *slog.Logger
	Now    func() time.Time
	// Period is the length of a billing period.
	Period time.Duration
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Plans lists the plans.
func (s *Service) Plans(ctx context.Context) ([]billing.Plan, error) { return s.Store.Plans(ctx) }

func (s *Service) plan(ctx context.Context, name string) (billing.Plan, error) {
	plans, err := s.Store.Plans(ctx)
	if err != nil {
		return billing.Plan{}, err
	}
	for _, p := range plans {
		if p.Name == name {
			return p, nil
		}
	}
	return billing.Plan{}, errs.Invalid("billing.plan_invalid", "plan", "no such plan: "+name)
}

// Subscription is the caller's subscription; an account without a live one is on free.
func (s *Service) Subscription(ctx context.Context, c caller.Caller) (billing.Subscription, error) {
	sub, ok, err := s.Store.Subscription(ctx, c.UserID)
	if err != nil {
		return billing.Subscription{}, err
	}
	if !ok || sub.Status == billing.Canceled {
		return billing.Subscription{AccountID: c.UserID, Plan: billing.Free, Status: billing.Free}, nil
	}
	return sub, nil
}

// accountPlan is the plan an account is on now.
func (s *Service) accountPlan(ctx context.Context, accountID string) (billing.Plan, billing.Subscription, error) {
	sub, ok, err := s.Store.Subscription(ctx, accountID)
	if err != nil {
		return billing.Plan{}, billing.Subscription{}, err
	}
	name := billing.Free
	if ok && sub.Live() {
		name = sub.Plan
	}
	p, err := s.plan(ctx, name)
	return p, sub, err
}

// result is what an operation answers, kept for its retries.
type result struct {
	Subscription  billing.Subscription `json:"subscription"`
	ProratedCents int64                `json:"prorated_cents"`
}

func checkOperation(id string) (string, error) {
	if id == "" {
		return uuid.NewString(), nil
	}
	if len(id) > 100 {
		return "", errs.Invalid("billing.idempotency_key_invalid", "Idempotency-Key", "an Idempotency-Key is at most 100 characters")
	}
	return id, nil
}

// replay is the stored answer of an operation already done, if any.
func (s *Service) replay(ctx context.Context, accountID, op, kind string) (*result, error) {
	var out *result
	err := s.Store.InTx(ctx, func(tx Tx) error {
		raw, ok, err := tx.Operation(ctx, accountID, op)
		if err != nil || !ok {
			return err
		}
		var r result
		if err := json.Unmarshal(raw, &r); err != nil {
			return errs.Internal(err)
		}
		out = &r
		return nil
	})
	return out, err
}

// orReplay answers a refused operation: with its stored answer if a concurrent retry of it finished
// meanwhile, with err otherwise.
func (s *Service) orReplay(ctx context.Context, accountID, op, kind string, err error) (*result, error) {
	r, rerr := s.replay(ctx, accountID, op, kind)
	if rerr != nil {
		return nil, rerr
	}
	if r == nil {
		return nil, err
	}
	return r, nil
}

// stripeKey derives the idempotency key of one Stripe POST from our operation: a retried operation
// sends the same keys, so Stripe performs each call once.
func stripeKey(accountID, op, step string) string { return "acme-" + accountID + "-" + op + "-" + step }

// Subscribe puts the caller on a paid plan.
func (s *Service) Subscribe(ctx context.Context, c caller.Caller, planName, op string) (billing.Subscription, error) {
	op, err := checkOperation(op)
	if err != nil {
		return billing.Subscription{}, err
	}
	if r, err := s.replay(ctx, c.UserID, op, "subscribe"); err != nil || r != nil {
		return subscriptionOf(r), err
	}
	plan, err := s.plan(ctx, planName)
	if err != nil {
		return billing.Subscription{}, err
	}
	current, ok, err := s.Store.Subscription(ctx, c.UserID)
	if err != nil {
		return billing.Subscription{}, err
	}
	var cur *billing.Subscription
	if ok {
		cur = &current
	}
	now := s.now()
	if _, _, err := billing.Subscribe(cur, c.UserID, plan, now, s.Period); err != nil {
		// Checked before Stripe hears of it. A concurrent retry of this very operation may have
		// finished meanwhile: then its answer is this one's.
		r, rerr := s.orReplay(ctx, c.UserID, op, "subscribe", err)
		return subscriptionOf(r), rerr
	}
	email, region := "", c.Region
	if cur != nil && cur.BillingEmail != "" {
		email, region = cur.BillingEmail, cur.Region
	} else if email, region, err = s.Users.Contact(ctx, c.UserID); err != nil {
		return billing.Subscription{}, err
	}
	customer := ""
	if cur != nil {
		customer = cur.StripeCustomerID
	}
	if customer == "" {
		if customer, err = s.Stripe.CreateCustomer(ctx, c.UserID, email, stripeKey(c.UserID, op, "customer")); err != nil {
			return billing.Subscription{}, err
		}
	}
	stripeSub, err := s.Stripe.CreateSubscription(ctx, customer, plan.StripePriceID, c.UserID, stripeKey(c.UserID, op, "subscription"))
	if err != nil {
		return billing.Subscription{}, err
	}
	var out billing.Subscription
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if raw, done, err := tx.Operation(ctx, c.UserID, op); err != nil || done { // a concurrent retry won
			if err == nil {
				var r result
				err = json.Unmarshal(raw, &r)
				out = r.Subscription
			}
			return err
		}
		locked, ok, err := tx.LockSubscription(ctx, c.UserID)
		if err != nil {
			return err
		}
		var cur *billing.Subscription
		if ok {
			cur = &locked
		}
		sub, evs, err := billing.Subscribe(cur, c.UserID, plan, now, s.Period)
		if err != nil {
			return err
		}
		sub.StripeCustomerID, sub.StripeSubscriptionID, sub.BillingEmail, sub.Region = customer, stripeSub, email, region
		evs[0].Subscription = sub
		if err := tx.SaveSubscription(ctx, sub); err != nil {
			return err
		}
		saved, err := tx.SaveOperation(ctx, c.UserID, op, "subscribe", result{Subscription: sub})
		if err != nil {
			return err
		}
		if !saved {
			return errRetryWon
		}
		out = sub
		return tx.Publish(ctx, published(c.UserID, now, evs)...)
	})
	switch {
	case errors.Is(err, errRetryWon):
		r, err := s.replay(ctx, c.UserID, op, "subscribe")
		return subscriptionOf(r), err
	case errs.As(err).Code == "billing.already_subscribed":
		// Another operation subscribed the account while this one talked to Stripe: this one's Stripe
		// subscription must not live on (it would be charged). A retry of another operation with the
		// same Stripe key is the same subscription and is not canceled.
		if cur, ok, _ := s.Store.Subscription(ctx, c.UserID); !ok || cur.StripeSubscriptionID != stripeSub {
			if cerr := s.Stripe.CancelNow(context.WithoutCancel(ctx), stripeSub, stripeKey(c.UserID, op, "compensate")); cerr != nil {
				s.Log.ErrorContext(ctx, "a Stripe subscription of a lost race could not be canceled", "stripe_subscription_id", stripeSub, "error", cerr)
			}
		}
		return billing.Subscription{}, err
	}
	return out, err
}

// errRetryWon: a concurrent retry of the same operation recorded its answer first.
var errRetryWon = errors.New("a concurrent retry of the operation finished first")

func subscriptionOf(r *result) billing.Subscription {
	if r == nil {
		return billing.Subscription{}
	}
	return r.Subscription
}

// PreviewChange is what changing to plan would charge (credit, when negative) now.
func (s *Service) PreviewChange(ctx context.Context, c caller.Caller, planName string) (from, to billing.Plan, cents int64, end time.Time, err error) {
	to, err = s.plan(ctx, planName)
	if err != nil {
		return
	}
	from, sub, err := s.accountPlan(ctx, c.UserID)
	if err != nil {
		return
	}
	probe := sub
	if cents, _, err = probe.ChangePlan(from, to, s.now()); err != nil {
		return
	}
	return from, to, cents, sub.PeriodEnd, nil
}

// ChangePlan upgrades or downgrades the caller's subscription, with proration.
func (s *Service) ChangePlan(ctx context.Context, c caller.Caller, planName, op string) (billing.Subscription, int64, error) {
	op, err := checkOperation(op)
	if err != nil {
		return billing.Subscription{}, 0, err
	}
	if r, err := s.replay(ctx, c.UserID, op, "change"); err != nil || r != nil {
		return subscriptionOf(r), proratedOf(r), err
	}
	to, err := s.plan(ctx, planName)
	if err != nil {
		return billing.Subscription{}, 0, err
	}
	from, sub, err := s.accountPlan(ctx, c.UserID)
	if err != nil {
		return billing.Subscription{}, 0, err
	}
	probe := sub
	if _, _, err := probe.ChangePlan(from, to, s.now()); err != nil {
		r, rerr := s.orReplay(ctx, c.UserID, op, "change", err)
		return subscriptionOf(r), proratedOf(r), rerr
	}
	if err := s.Stripe.ChangePrice(ctx, sub.StripeSubscriptionID, to.StripePriceID, stripeKey(c.UserID, op, "change")); err != nil {
		return billing.Subscription{}, 0, err
	}
	var out billing.Subscription
	var cents int64
	err = s.mutate(ctx, c.UserID, op, "change", func(sub *billing.Subscription) ([]billing.Event, any, error) {
		from, err := s.plan(ctx, sub.Plan)
		if err != nil {
			return nil, nil, err
		}
		var evs []billing.Event
		cents, evs, err = sub.ChangePlan(from, to, s.now())
		out = *sub
		return evs, result{Subscription: *sub, ProratedCents: cents}, err
	})
	return out, cents, err
}

func proratedOf(r *result) int64 {
	if r == nil {
		return 0
	}
	return r.ProratedCents
}

// Cancel ends the caller's subscription at the end of the period; Resume keeps it.
func (s *Service) Cancel(ctx context.Context, c caller.Caller, op string) (billing.Subscription, error) {
	return s.setCancel(ctx, c, op, true)
}

// Resume keeps a subscription that was to end with the period.
func (s *Service) Resume(ctx context.Context, c caller.Caller, op string) (billing.Subscription, error) {
	return s.setCancel(ctx, c, op, false)
}

func (s *Service) setCancel(ctx context.Context, c caller.Caller, op string, cancel bool) (billing.Subscription, error) {
	op, err := checkOperation(op)
	if err != nil {
		return billing.Subscription{}, err
	}
	kind := map[bool]string{true: "cancel", false: "resume"}[cancel]
	if r, err := s.replay(ctx, c.UserID, op, kind); err != nil || r != nil {
		return subscriptionOf(r), err
	}
	sub, ok, err := s.Store.Subscription(ctx, c.UserID)
	if err != nil {
		return billing.Subscription{}, err
	}
	apply := func(sub *billing.Subscription) ([]billing.Event, error) {
		if cancel {
			return sub.Cancel()
		}
		return sub.Resume()
	}
	probe := sub
	if !ok {
		probe.Status = billing.Canceled
	}
	if _, err := apply(&probe); err != nil {
		r, rerr := s.orReplay(ctx, c.UserID, op, kind, err)
		return subscriptionOf(r), rerr
	}
	if err := s.Stripe.SetCancelAtPeriodEnd(ctx, sub.StripeSubscriptionID, cancel, stripeKey(c.UserID, op, kind)); err != nil {
		return billing.Subscription{}, err
	}
	var out billing.Subscription
	err = s.mutate(ctx, c.UserID, op, kind, func(sub *billing.Subscription) ([]billing.Event, any, error) {
		evs, err := apply(sub)
		out = *sub
		return evs, result{Subscription: *sub}, err
	})
	return out, err
}

// mutate locks the account's subscription, applies fn, and saves it with the operation's answer and
// the events fn returns, in one transaction.
func (s *Service) mutate(ctx context.Context, accountID, op, kind string, fn func(*billing.Subscription) ([]billing.Event, any, error)) error {
	return s.Store.InTx(ctx, func(tx Tx) error {
		if _, done, err := tx.Operation(ctx, accountID, op); err != nil || done {
			return err
		}
		sub, ok, err := tx.LockSubscription(ctx, accountID)
		if err != nil {
			return err
		}
		if !ok {
			return errs.Conflict("billing.not_subscribed", "the account has no subscription")
		}
		evs, answer, err := fn(&sub)
		if err != nil {
			return err
		}
		if err := tx.SaveSubscription(ctx, sub); err != nil {
			return err
		}
		saved, err := tx.SaveOperation(ctx, accountID, op, kind, answer)
		if err != nil {
			return err
		}
		if !saved {
			return errRetryWon
		}
		return tx.Publish(ctx, published(accountID, s.now(), evs)...)
	})
}

// Usage is the caller's usage now, with the plan's limits and the current period.
func (s *Service) Usage(ctx context.Context, c caller.Caller) (billing.Plan, billing.Subscription, map[string]int64, error) {
	plan, sub, err := s.accountPlan(ctx, c.UserID)
	if err != nil {
		return billing.Plan{}, billing.Subscription{}, nil, err
	}
	usage, err := s.Store.Usage(ctx, c.UserID)
	return plan, sub, usage, err
}

// Invoices lists the caller's invoices, newest first.
func (s *Service) Invoices(ctx context.Context, c caller.Caller) ([]billing.Invoice, error) {
	return s.Store.Invoices(ctx, c.UserID)
}

// Invoice is one of the caller's invoices.
func (s *Service) Invoice(ctx context.Context, c caller.Caller, id string) (billing.Invoice, error) {
	if _, err := uuid.Parse(id); err != nil {
		return billing.Invoice{}, billing.ErrNoInvoice()
	}
	return s.Store.Invoice(ctx, c.UserID, id)
}

// CheckEntitlement says whether accountID's plan allows total of meter; refused, the error says so
// (402 at the gateway).
func (s *Service) CheckEntitlement(ctx context.Context, accountID, meter string, total int64) (billing.Plan, error) {
	switch meter {
	case billing.MeterProjects, billing.MeterMembers, billing.MeterStorageBytes:
	default:
		return billing.Plan{}, errs.Invalid("billing.meter_invalid", "resource", "no such resource: "+meter)
	}
	plan, _, err := s.accountPlan(ctx, accountID)
	if err != nil {
		return billing.Plan{}, err
	}
	if !plan.Allows(meter, total) {
		return plan, billing.ErrPlanLimit(meter, plan.Limit(meter), plan.Name)
	}
	return plan, nil
}
