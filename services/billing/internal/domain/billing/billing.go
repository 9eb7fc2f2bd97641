// Package billing holds the rules of plans, subscriptions, entitlements and invoices: what a plan
// allows, what a change of plan costs mid-period, which Stripe news may change a subscription, and
// what an invoice at a period's close contains. It knows nothing of Stripe's API, SQL or transport.
package billing

import (
	"math"
	"strconv"
	"time"

	"github.com/acme/platform/services/platform/errs"
)

// Meters usage is counted on.
const (
	MeterProjects     = "projects"
	MeterMembers      = "members"
	MeterStorageBytes = "storage_bytes"
)

// GiB is the unit storage overage is priced in.
const GiB = int64(1) << 30

// Unlimited is a limit that never refuses.
const Unlimited = int64(-1)

// Free is the plan of every account that has no subscription.
const Free = "free"

// Plan is a price per period and the limits that come with it.
type Plan struct {
	Name          string
	PriceCents    int64
	Currency      string
	StripePriceID string
	Limits        map[string]int64 // by meter; Unlimited or absent: no limit
	// OverageCents is the price per unit beyond the limit, by meter (storage: per GiB); a meter
	// without one is a hard limit.
	OverageCents map[string]int64
}

// Limit is the plan's limit on meter.
func (p Plan) Limit(meter string) int64 {
	if l, ok := p.Limits[meter]; ok {
		return l
	}
	return Unlimited
}

// Allows reports whether an account on the plan may hold total of meter. A meter with an overage
// price is never refused: what lies beyond the limit is invoiced.
func (p Plan) Allows(meter string, total int64) bool {
	l := p.Limit(meter)
	return l == Unlimited || total <= l || p.OverageCents[meter] > 0
}

// ErrPlanLimit is what a refused entitlement answers (HTTP 402).
func ErrPlanLimit(meter string, limit int64, plan string) error {
	return &errs.Error{Kind: errs.KindPaymentRequired, Code: "billing.plan_limit_reached", Field: meter,
		Message: "the " + plan + " plan allows " + formatLimit(meter, limit) + "; upgrade the plan for more"}
}

func formatLimit(meter string, limit int64) string {
	if meter == MeterStorageBytes {
		return strconv.FormatInt(limit/(1<<20), 10) + " MiB of storage"
	}
	return strconv.FormatInt(limit, 10) + " " + meter
}

// Subscription statuses.
const (
	Active     = "active"
	PastDue    = "past_due"
	Canceled   = "canceled"
	Incomplete = "incomplete"
)

// Subscription is an account's paid plan, mirrored in Stripe.
type Subscription struct {
	AccountID            string
	Plan                 string
	Status               string
	CancelAtPeriodEnd    bool
	PeriodStart          time.Time
	PeriodEnd            time.Time
	StripeCustomerID     string
	StripeSubscriptionID string
	// StripeEventAt is when the newest Stripe event applied to this subscription happened: an older
	// one, delivered late, changes nothing.
	StripeEventAt time.Time
	// ProrationCents accumulates what changes of plan in this period charge (or credit); the
	// period's invoice carries it.
	ProrationCents int64
	BillingEmail   string
	Region         string
	Version        int64
}

// Live reports whether the subscription holds a paid plan now.
func (s Subscription) Live() bool {
	return s.Status == Active || s.Status == PastDue || s.Status == Incomplete
}

// Event is something that happened to a subscription or an invoice, as the domain states it; the
// app publishes it on acme.billing.events and records it in the audit trail.
type Event struct {
	Type         string // subscription.created, subscription.changed, subscription.canceled, invoice.created, invoice.paid, invoice.payment_failed
	Subscription Subscription
	Invoice      *Invoice
}

func (s *Subscription) event(typ string) Event { return Event{Type: typ, Subscription: *s} }

// Subscribe starts a subscription to plan at now for one period. An account with a live one changes
// plan instead.
func Subscribe(current *Subscription, accountID string, plan Plan, now time.Time, period time.Duration) (Subscription, []Event, error) {
	if plan.Name == Free || plan.StripePriceID == "" {
		return Subscription{}, nil, errs.Invalid("billing.plan_invalid", "plan", "choose a paid plan; every account without one is on free")
	}
	if current != nil && current.Live() {
		return Subscription{}, nil, errs.Conflict("billing.already_subscribed", "the account has a subscription; change its plan instead")
	}
	s := Subscription{AccountID: accountID, Plan: plan.Name, Status: Active, PeriodStart: now, PeriodEnd: now.Add(period), Version: 1}
	if current != nil { // a canceled one comes back with its Stripe customer
		s.StripeCustomerID, s.BillingEmail, s.Region, s.Version = current.StripeCustomerID, current.BillingEmail, current.Region, current.Version+1
	}
	return s, []Event{s.event("subscription.created")}, nil
}

// Prorate is what moving from one plan's price to another's costs for the rest of the period
// [start, end) at now: the difference, times the share of the period left, to the cent.
func Prorate(from, to Plan, start, end, now time.Time) int64 {
	total := end.Sub(start)
	if total <= 0 || !now.Before(end) {
		return 0
	}
	left := end.Sub(now)
	if left > total {
		left = total
	}
	return int64(math.Round(float64(to.PriceCents-from.PriceCents) * float64(left) / float64(total)))
}

// ChangePlan moves a live subscription from plan from to plan to at now, with proration.
func (s *Subscription) ChangePlan(from, to Plan, now time.Time) (int64, []Event, error) {
	if !s.Live() {
		return 0, nil, errs.Conflict("billing.not_subscribed", "the account has no subscription to change; subscribe first")
	}
	if to.Name == Free || to.StripePriceID == "" {
		return 0, nil, errs.Invalid("billing.plan_invalid", "plan", "to leave paid plans, cancel the subscription")
	}
	if to.Name == s.Plan {
		return 0, nil, errs.Conflict("billing.plan_unchanged", "the subscription is already on "+to.Name)
	}
	cents := Prorate(from, to, s.PeriodStart, s.PeriodEnd, now)
	s.Plan, s.ProrationCents = to.Name, s.ProrationCents+cents
	s.Version++
	return cents, []Event{s.event("subscription.changed")}, nil
}

// Cancel ends the subscription at the end of the period; Resume undoes that before the end.
func (s *Subscription) Cancel() ([]Event, error) {
	if !s.Live() {
		return nil, errs.Conflict("billing.not_subscribed", "the account has no subscription to cancel")
	}
	if s.CancelAtPeriodEnd {
		return nil, errs.Conflict("billing.already_canceled", "the subscription already ends with the period")
	}
	s.CancelAtPeriodEnd = true
	s.Version++
	return []Event{s.event("subscription.changed")}, nil
}

// Resume keeps a subscription that was to end with the period.
func (s *Subscription) Resume() ([]Event, error) {
	if !s.Live() || !s.CancelAtPeriodEnd {
		return nil, errs.Conflict("billing.not_canceled", "the subscription is not set to end; nothing to resume")
	}
	s.CancelAtPeriodEnd = false
	s.Version++
	return []Event{s.event("subscription.changed")}, nil
}

// StripeState is what Stripe says of a subscription in an event or when asked.
type StripeState struct {
	Status            string
	CancelAtPeriodEnd bool
	At                time.Time // when Stripe's event happened (Event.Created)
}

// ApplyStripe takes Stripe's state of the subscription as of state.At. Stripe does not deliver in
// order: news older than what was applied changes nothing (stale). Status canceled ends it.
func (s *Subscription) ApplyStripe(state StripeState) (applied bool, evs []Event) {
	if state.At.Before(s.StripeEventAt) {
		return false, nil
	}
	s.StripeEventAt = state.At
	if state.Status == s.Status && state.CancelAtPeriodEnd == s.CancelAtPeriodEnd {
		return true, nil
	}
	s.Status, s.CancelAtPeriodEnd = state.Status, state.CancelAtPeriodEnd
	s.Version++
	if s.Status == Canceled {
		return true, []Event{s.event("subscription.canceled")}
	}
	return true, []Event{s.event("subscription.changed")}
}

// Reconcile repairs the subscription to Stripe's status when they differ (a webhook was lost):
// Stripe is the authority on whether it is paid. It reports whether anything changed.
func (s *Subscription) Reconcile(stripeStatus string) (bool, []Event) {
	if stripeStatus == "" || stripeStatus == s.Status {
		return false, nil
	}
	s.Status = stripeStatus
	s.Version++
	typ := "subscription.changed"
	if s.Status == Canceled {
		typ = "subscription.canceled"
	}
	return true, []Event{s.event(typ)}
}

// ProjectUsage is what one project counts in its account's usage: itself, its members and the bytes
// of its files. A project's usage belongs to its owner's account and moves, whole, with ownership.
type ProjectUsage struct {
	AccountID    string
	Members      int64
	StorageBytes int64
}

// Usage is the project's counts by meter, for moving them between accounts.
func (u ProjectUsage) Usage() map[string]int64 {
	return map[string]int64{MeterProjects: 1, MeterMembers: u.Members, MeterStorageBytes: u.StorageBytes}
}
