package billing

import (
	"testing"
	"time"

	"github.com/acme/platform/services/platform/errs"
)

var (
	t0   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	free = Plan{Name: Free, Currency: "usd", Limits: map[string]int64{MeterProjects: 3, MeterStorageBytes: GiB}}
	pro  = Plan{Name: "pro", PriceCents: 3000, Currency: "usd", StripePriceID: "price_pro",
		Limits:       map[string]int64{MeterProjects: 50, MeterMembers: 10, MeterStorageBytes: 10 * GiB},
		OverageCents: map[string]int64{MeterMembers: 500, MeterStorageBytes: 20}}
	ent = Plan{Name: "enterprise", PriceCents: 9000, Currency: "usd", StripePriceID: "price_ent", Limits: map[string]int64{}}
)

const month = 30 * 24 * time.Hour

func TestPlanAllows(t *testing.T) {
	cases := []struct {
		plan  Plan
		meter string
		total int64
		want  bool
	}{
		{free, MeterProjects, 3, true},
		{free, MeterProjects, 4, false},
		{free, MeterMembers, 1000, true}, // no limit on the meter
		{pro, MeterMembers, 11, true},    // overage is invoiced, not refused
		{pro, MeterProjects, 51, false},
		{ent, MeterProjects, 1 << 40, true},
	}
	for _, tc := range cases {
		if got := tc.plan.Allows(tc.meter, tc.total); got != tc.want {
			t.Errorf("%s allows %d %s: %v, want %v", tc.plan.Name, tc.total, tc.meter, got, tc.want)
		}
	}
	if e := errs.As(ErrPlanLimit(MeterProjects, 3, Free)); e.Kind != errs.KindPaymentRequired || e.Code != "billing.plan_limit_reached" {
		t.Fatalf("%+v", e)
	}
}

func TestProrate(t *testing.T) {
	end := t0.Add(month)
	cases := []struct {
		name     string
		from, to Plan
		now      time.Time
		want     int64
	}{
		{"upgrade at the start: the whole difference", pro, ent, t0, 6000},
		{"upgrade half way", pro, ent, t0.Add(month / 2), 3000},
		{"downgrade half way: a credit", ent, pro, t0.Add(month / 2), -3000},
		{"a third left, rounded to the cent", pro, ent, t0.Add(2 * month / 3), 2000},
		{"at the end: nothing", pro, ent, end, 0},
	}
	for _, tc := range cases {
		if got := Prorate(tc.from, tc.to, t0, end, tc.now); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSubscriptionLifecycle(t *testing.T) {
	if _, _, err := Subscribe(nil, "a", free, t0, month); errs.As(err).Code != "billing.plan_invalid" {
		t.Fatal(err)
	}
	s, evs, err := Subscribe(nil, "a", pro, t0, month)
	if err != nil || s.Status != Active || !s.PeriodEnd.Equal(t0.Add(month)) || len(evs) != 1 || evs[0].Type != "subscription.created" {
		t.Fatalf("%v %+v %+v", err, s, evs)
	}
	if _, _, err := Subscribe(&s, "a", ent, t0, month); errs.As(err).Code != "billing.already_subscribed" {
		t.Fatal(err)
	}
	if _, _, err := s.ChangePlan(pro, pro, t0); errs.As(err).Code != "billing.plan_unchanged" {
		t.Fatal(err)
	}
	cents, evs, err := s.ChangePlan(pro, ent, t0.Add(month/2))
	if err != nil || cents != 3000 || s.Plan != "enterprise" || s.ProrationCents != 3000 || evs[0].Type != "subscription.changed" {
		t.Fatalf("%v %d %+v", err, cents, s)
	}
	if _, err := s.Resume(); errs.As(err).Code != "billing.not_canceled" {
		t.Fatal(err)
	}
	if _, err := s.Cancel(); err != nil || !s.CancelAtPeriodEnd {
		t.Fatal(err)
	}
	if _, err := s.Cancel(); errs.As(err).Code != "billing.already_canceled" {
		t.Fatal(err)
	}
	if _, err := s.Resume(); err != nil || s.CancelAtPeriodEnd {
		t.Fatal(err)
	}
}

// Stripe delivers out of order: an older event after a newer one changes nothing.
func TestApplyStripe_OlderNewsIsStale(t *testing.T) {
	s, _, _ := Subscribe(nil, "a", pro, t0, month)
	applied, evs := s.ApplyStripe(StripeState{Status: PastDue, At: t0.Add(2 * time.Minute)})
	if !applied || s.Status != PastDue || len(evs) != 1 {
		t.Fatalf("%v %+v", applied, s)
	}
	applied, evs = s.ApplyStripe(StripeState{Status: Active, At: t0.Add(time.Minute)})
	if applied || s.Status != PastDue || len(evs) != 0 {
		t.Fatalf("a stale event was applied: %+v", s)
	}
	applied, evs = s.ApplyStripe(StripeState{Status: Canceled, At: t0.Add(3 * time.Minute)})
	if !applied || s.Status != Canceled || evs[0].Type != "subscription.canceled" {
		t.Fatalf("%+v %+v", s, evs)
	}
	if changed, _ := s.Reconcile(Canceled); changed {
		t.Fatal("reconcile changed what agrees")
	}
	if changed, evs := s.Reconcile(Active); !changed || s.Status != Active || evs[0].Type != "subscription.changed" {
		t.Fatalf("%+v", s)
	}
}

func TestClosePeriod(t *testing.T) {
	s, _, _ := Subscribe(nil, "a", pro, t0, month)
	if _, _, due := s.ClosePeriod("i0", pro, nil, t0.Add(month-time.Second), month); due {
		t.Fatal("invoiced before the period's end")
	}
	s.ProrationCents = -700
	usage := map[string]int64{MeterProjects: 60, MeterMembers: 13, MeterStorageBytes: 10*GiB + 1}
	inv, evs, due := s.ClosePeriod("i1", pro, usage, t0.Add(month), month)
	if !due {
		t.Fatal("nothing due at the period's end")
	}
	// plan 3000, 3 members over at 500, 1 started GiB at 20, proration -700 (projects have no overage price)
	if len(inv.Lines) != 4 || inv.TotalCents != 3000+1500+20-700 || inv.Status != InvoiceOpen {
		t.Fatalf("%+v", inv)
	}
	if !s.PeriodStart.Equal(t0.Add(month)) || s.ProrationCents != 0 || len(evs) != 1 || evs[0].Type != "invoice.created" {
		t.Fatalf("%+v %+v", s, evs)
	}
	s.Cancel()
	_, evs, _ = s.ClosePeriod("i2", pro, nil, t0.Add(2*month), month)
	if s.Status != Canceled || len(evs) != 2 || evs[1].Type != "subscription.canceled" {
		t.Fatalf("%+v %+v", s, evs)
	}
	if _, _, due := s.ClosePeriod("i3", pro, nil, t0.Add(5*month), month); due {
		t.Fatal("a canceled subscription was invoiced")
	}
}

// The account hears once per failed attempt, however often Stripe tells.
func TestPaymentFailed_OncePerAttempt(t *testing.T) {
	inv := Invoice{ID: "i", Status: InvoiceOpen}
	var told int
	for _, attempt := range []int64{1, 1, 2, 1, 2, 3} {
		evs, _ := inv.PaymentFailed(attempt, Subscription{})
		told += len(evs)
	}
	if told != 3 || inv.PaymentAttempts != 3 {
		t.Fatalf("told %d times, attempts %d", told, inv.PaymentAttempts)
	}
	if evs := inv.Paid(Subscription{}); len(evs) != 1 || inv.Status != InvoicePaid {
		t.Fatal("paid")
	}
	if evs, _ := inv.PaymentFailed(4, Subscription{}); len(evs) != 0 {
		t.Fatal("a paid invoice failed")
	}
}
