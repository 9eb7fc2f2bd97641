package billing

import (
	"strconv"
	"time"

	"github.com/acme/platform/services/platform/errs"
)

// Invoice statuses.
const (
	InvoiceOpen          = "open"
	InvoicePaid          = "paid"
	InvoicePaymentFailed = "payment_failed"
)

// Line is one line of an invoice.
type Line struct {
	Description string
	Meter       string // "" for the plan's price and proration
	Quantity    int64
	UnitCents   int64
	AmountCents int64
}

// Invoice is what an account owes for one period: the plan's price, overage by meter, and the
// proration of plan changes in the period.
type Invoice struct {
	ID              string
	AccountID       string
	PeriodStart     time.Time
	PeriodEnd       time.Time
	Lines           []Line
	TotalCents      int64
	Currency        string
	Status          string
	StripeInvoiceID string
	CreatedAt       time.Time
	// PaymentAttempts counts Stripe's failed attempts already told to the account.
	PaymentAttempts int64
}

// Overage is the lines for usage beyond plan's limits: per unit, storage per started GiB.
func Overage(plan Plan, usage map[string]int64) []Line {
	var out []Line
	for _, meter := range []string{MeterProjects, MeterMembers, MeterStorageBytes} {
		price, limit := plan.OverageCents[meter], plan.Limit(meter)
		over := usage[meter] - limit
		if price <= 0 || limit == Unlimited || over <= 0 {
			continue
		}
		qty, desc := over, meter+" beyond the plan's "+strconv.FormatInt(limit, 10)
		if meter == MeterStorageBytes {
			qty, desc = (over+GiB-1)/GiB, "GiB of storage beyond the plan's "+strconv.FormatInt(limit/GiB, 10)+" GiB"
		}
		out = append(out, Line{Description: desc, Meter: meter, Quantity: qty, UnitCents: price, AmountCents: qty * price})
	}
	return out
}

// ClosePeriod ends the subscription's current period if it is over at now: the invoice for it
// (plan price, overage, proration), the next period, and — when it was to end — its cancellation.
// Nothing is due before the period's end.
func (s *Subscription) ClosePeriod(id string, plan Plan, usage map[string]int64, now time.Time, period time.Duration) (Invoice, []Event, bool) {
	if !s.Live() || now.Before(s.PeriodEnd) {
		return Invoice{}, nil, false
	}
	inv := Invoice{ID: id, AccountID: s.AccountID, PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd, Currency: plan.Currency,
		Status: InvoiceOpen, CreatedAt: now}
	inv.Lines = append(inv.Lines, Line{Description: plan.Name + " plan", Quantity: 1, UnitCents: plan.PriceCents, AmountCents: plan.PriceCents})
	inv.Lines = append(inv.Lines, Overage(plan, usage)...)
	if s.ProrationCents != 0 {
		inv.Lines = append(inv.Lines, Line{Description: "proration of plan changes", Quantity: 1, UnitCents: s.ProrationCents, AmountCents: s.ProrationCents})
	}
	for _, l := range inv.Lines {
		inv.TotalCents += l.AmountCents
	}
	s.PeriodStart, s.PeriodEnd, s.ProrationCents = s.PeriodEnd, s.PeriodEnd.Add(period), 0
	s.Version++
	evs := []Event{{Type: "invoice.created", Subscription: *s, Invoice: &inv}}
	if s.CancelAtPeriodEnd {
		s.Status, s.CancelAtPeriodEnd = Canceled, false
		evs = append(evs, s.event("subscription.canceled"))
	}
	return inv, evs, true
}

// PaymentFailed records Stripe's failed attempt n at charging the invoice; an attempt already told
// (a redelivered or second event about it) changes nothing, so the account is mailed once per attempt.
func (i *Invoice) PaymentFailed(attempt int64, sub Subscription) ([]Event, error) {
	if i.Status == InvoicePaid {
		return nil, nil
	}
	if attempt <= i.PaymentAttempts {
		return nil, nil
	}
	i.Status, i.PaymentAttempts = InvoicePaymentFailed, attempt
	return []Event{{Type: "invoice.payment_failed", Subscription: sub, Invoice: i}}, nil
}

// Paid records that Stripe collected the invoice.
func (i *Invoice) Paid(sub Subscription) []Event {
	if i.Status == InvoicePaid {
		return nil
	}
	i.Status = InvoicePaid
	return []Event{{Type: "invoice.paid", Subscription: sub, Invoice: i}}
}

// ErrNoInvoice is the answer for an invoice the caller does not have.
func ErrNoInvoice() error { return errs.NotFound("billing.invoice_not_found", "no such invoice") }
