package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/acme/platform/services/billing/internal/domain/billing"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
)

// memStore is the Store in memory; a failed transaction leaves nothing behind (the PostgreSQL
// adapter runs against the real database in the e2e suite).
type memStore struct {
	mu         sync.Mutex
	plans      []billing.Plan
	subs       map[string]billing.Subscription
	ops        map[string]json.RawMessage
	stripeEvts map[string]string
	usage      map[string]map[string]int64
	usageEvts  map[string]bool
	projects   map[string]billing.ProjectUsage
	invoices   map[string]billing.Invoice
	published  []outbox.Event
}

func newMemStore() *memStore {
	return &memStore{plans: testPlans, subs: map[string]billing.Subscription{}, ops: map[string]json.RawMessage{},
		stripeEvts: map[string]string{}, usage: map[string]map[string]int64{}, usageEvts: map[string]bool{},
		projects: map[string]billing.ProjectUsage{}, invoices: map[string]billing.Invoice{}}
}

var testPlans = []billing.Plan{
	{Name: billing.Free, Currency: "usd", Limits: map[string]int64{billing.MeterProjects: 3}},
	{Name: "pro", PriceCents: 2900, Currency: "usd", StripePriceID: "price_pro", Limits: map[string]int64{billing.MeterProjects: 50, billing.MeterMembers: 2},
		OverageCents: map[string]int64{billing.MeterMembers: 500}},
	{Name: "enterprise", PriceCents: 19900, Currency: "usd", StripePriceID: "price_ent", Limits: map[string]int64{}},
}

func (m *memStore) InTx(ctx context.Context, fn func(Tx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	subs, ops, se, ue, inv, pub := maps.Clone(m.subs), maps.Clone(m.ops), maps.Clone(m.stripeEvts), maps.Clone(m.usageEvts),
		maps.Clone(m.invoices), append([]outbox.Event(nil), m.published...)
	usage := map[string]map[string]int64{}
	for k, v := range m.usage {
		usage[k] = maps.Clone(v)
	}
	projects := maps.Clone(m.projects)
	if err := fn(memTx{m}); err != nil {
		m.subs, m.ops, m.stripeEvts, m.usageEvts, m.invoices, m.published, m.usage, m.projects = subs, ops, se, ue, inv, pub, usage, projects
		return err
	}
	return nil
}

func (m *memStore) Plans(context.Context) ([]billing.Plan, error) { return m.plans, nil }
func (m *memStore) Subscription(_ context.Context, id string) (billing.Subscription, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[id]
	return s, ok, nil
}
func (m *memStore) Usage(_ context.Context, id string) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.usage[id]), nil
}
func (m *memStore) Invoices(_ context.Context, id string) ([]billing.Invoice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []billing.Invoice
	for _, i := range m.invoices {
		if i.AccountID == id {
			out = append(out, i)
		}
	}
	return out, nil
}
func (m *memStore) Invoice(_ context.Context, account, id string) (billing.Invoice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i, ok := m.invoices[id]; ok && i.AccountID == account {
		return i, nil
	}
	return billing.Invoice{}, billing.ErrNoInvoice()
}
func (m *memStore) LiveSubscriptions(context.Context) ([]billing.Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []billing.Subscription
	for _, s := range m.subs {
		if s.StripeSubscriptionID != "" && s.Status != billing.Canceled {
			out = append(out, s)
		}
	}
	return out, nil
}
func (m *memStore) Unmirrored(context.Context, int) ([]billing.Invoice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []billing.Invoice
	for _, i := range m.invoices {
		if i.StripeInvoiceID == "" {
			out = append(out, i)
		}
	}
	return out, nil
}
func (m *memStore) SetMirrored(_ context.Context, id, stripeID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.invoices[id]
	i.StripeInvoiceID = stripeID
	m.invoices[id] = i
	return nil
}

type memTx struct{ m *memStore }

func (t memTx) LockSubscription(_ context.Context, id string) (billing.Subscription, bool, error) {
	s, ok := t.m.subs[id]
	return s, ok, nil
}
func (t memTx) LockSubscriptionByStripeID(_ context.Context, id string) (billing.Subscription, bool, error) {
	for _, s := range t.m.subs {
		if s.StripeSubscriptionID == id {
			return s, true, nil
		}
	}
	return billing.Subscription{}, false, nil
}
func (t memTx) SaveSubscription(_ context.Context, s billing.Subscription) error {
	t.m.subs[s.AccountID] = s
	return nil
}
func (t memTx) Operation(_ context.Context, account, op string) (json.RawMessage, bool, error) {
	r, ok := t.m.ops[account+"/"+op]
	return r, ok, nil
}
func (t memTx) SaveOperation(_ context.Context, account, op, _ string, response any) (bool, error) {
	if _, ok := t.m.ops[account+"/"+op]; ok {
		return false, nil
	}
	b, err := json.Marshal(response)
	t.m.ops[account+"/"+op] = b
	return true, err
}
func (t memTx) FirstStripeEvent(_ context.Context, id, _ string, _ time.Time, outcome string) (bool, error) {
	if _, ok := t.m.stripeEvts[id]; ok {
		return false, nil
	}
	t.m.stripeEvts[id] = outcome
	return true, nil
}
func (t memTx) SetStripeEventOutcome(_ context.Context, id, outcome string) error {
	t.m.stripeEvts[id] = outcome
	return nil
}
func (t memTx) LockInvoiceByStripeID(_ context.Context, id string) (billing.Invoice, bool, error) {
	for _, i := range t.m.invoices {
		if i.StripeInvoiceID == id {
			return i, true, nil
		}
	}
	return billing.Invoice{}, false, nil
}
func (t memTx) SaveInvoice(_ context.Context, inv billing.Invoice) error {
	for _, i := range t.m.invoices {
		if i.ID != inv.ID && i.AccountID == inv.AccountID && i.PeriodStart.Equal(inv.PeriodStart) {
			return errs.Conflict("invoice.exists", "unique per account and period")
		}
	}
	t.m.invoices[inv.ID] = inv
	return nil
}
func (t memTx) FirstUsageEvent(_ context.Context, id string) (bool, error) {
	if t.m.usageEvts[id] {
		return false, nil
	}
	t.m.usageEvts[id] = true
	return true, nil
}
func (t memTx) AddUsage(_ context.Context, account, meter string, delta int64) error {
	if t.m.usage[account] == nil {
		t.m.usage[account] = map[string]int64{}
	}
	t.m.usage[account][meter] = max(0, t.m.usage[account][meter]+delta)
	return nil
}
func (t memTx) ProjectAccount(_ context.Context, id string) (billing.ProjectUsage, bool, error) {
	p, ok := t.m.projects[id]
	return p, ok, nil
}
func (t memTx) PutProjectAccount(_ context.Context, id string, u billing.ProjectUsage) error {
	t.m.projects[id] = u
	return nil
}
func (t memTx) DeleteProjectAccount(_ context.Context, id string) error {
	delete(t.m.projects, id)
	return nil
}
func (t memTx) DueSubscriptions(_ context.Context, now time.Time, limit int) ([]billing.Subscription, error) {
	var out []billing.Subscription
	for _, s := range t.m.subs {
		if s.Live() && !s.PeriodEnd.After(now) && len(out) < limit {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AccountID < out[j].AccountID })
	return out, nil
}
func (t memTx) Usage(_ context.Context, account string) (map[string]int64, error) {
	return maps.Clone(t.m.usage[account]), nil
}
func (t memTx) Publish(_ context.Context, evs ...outbox.Event) error {
	t.m.published = append(t.m.published, evs...)
	return nil
}

// fakeStripe records calls by idempotency key, as Stripe's idempotency layer would see them.
type fakeStripe struct {
	// onCreate runs once, inside the next CreateSubscription, before it answers.
	onCreate func()
	mu       sync.Mutex
	keys     []string
	status   map[string]string
	next     int
	webhooks map[string]WebhookEvent
}

func (f *fakeStripe) call(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, key)
	f.next++
	return f.next
}
func (f *fakeStripe) CreateCustomer(_ context.Context, _, _, key string) (string, error) {
	f.call(key)
	return "cus_" + key, nil
}
func (f *fakeStripe) CreateSubscription(_ context.Context, _, _, _, key string) (string, error) {
	if hook := f.onCreate; hook != nil {
		f.onCreate = nil
		hook()
	}
	f.call(key)
	return "sub_" + key, nil
}
func (f *fakeStripe) ChangePrice(_ context.Context, _, _, key string) error { f.call(key); return nil }
func (f *fakeStripe) SetCancelAtPeriodEnd(_ context.Context, _ string, _ bool, key string) error {
	f.call(key)
	return nil
}
func (f *fakeStripe) CancelNow(_ context.Context, _, key string) error { f.call(key); return nil }
func (f *fakeStripe) SubscriptionStatus(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.status[id]; ok {
		return s, nil
	}
	return billing.Active, nil
}
func (f *fakeStripe) MirrorInvoice(_ context.Context, _ string, inv billing.Invoice, key string) (string, error) {
	f.call(key)
	return "in_" + inv.ID, nil
}
func (f *fakeStripe) ReportUsage(_ context.Context, _, _ string, _ int64, _ time.Time, key string) error {
	f.call(key)
	return nil
}
func (f *fakeStripe) ParseWebhook(payload []byte, sig string) (WebhookEvent, error) {
	if sig != "good" {
		return WebhookEvent{}, ErrBadSignature()
	}
	return f.webhooks[string(payload)], nil
}

func (f *fakeStripe) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys...)
}

type fakeUsers struct{}

func (fakeUsers) Contact(context.Context, string) (string, string, error) {
	return "a@example.com", "eu", nil
}

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func newService() (*Service, *memStore, *fakeStripe, *time.Time) {
	now := t0
	st, sp := newMemStore(), &fakeStripe{status: map[string]string{}, webhooks: map[string]WebhookEvent{}}
	return &Service{Store: st, Stripe: sp, Users: fakeUsers{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now }, Period: 30 * 24 * time.Hour}, st, sp, &now
}

var ada = caller.Caller{UserID: "ada", Region: "eu"}

func TestSubscribe_OncePerOperation(t *testing.T) {
	s, st, sp, _ := newService()
	ctx := context.Background()
	first, err := s.Subscribe(ctx, ada, "pro", "op1")
	if err != nil || first.Plan != "pro" || first.Status != billing.Active || first.StripeCustomerID == "" || first.BillingEmail != "a@example.com" {
		t.Fatalf("%v %+v", err, first)
	}
	again, err := s.Subscribe(ctx, ada, "pro", "op1")
	if err != nil || again.StripeSubscriptionID != first.StripeSubscriptionID {
		t.Fatalf("the retry: %v %+v", err, again)
	}
	if calls := sp.calls(); len(calls) != 2 || calls[0] != "acme-ada-op1-customer" || calls[1] != "acme-ada-op1-subscription" {
		t.Fatalf("Stripe calls %v", calls)
	}
	if _, err := s.Subscribe(ctx, ada, "enterprise", "op2"); errs.As(err).Code != "billing.already_subscribed" {
		t.Fatal(err)
	}
	if len(st.published) != 1 || st.published[0].Envelope.Type != "subscription.created" || st.published[0].Topic != events.TopicBilling {
		t.Fatalf("published %+v", st.published)
	}
	if _, err := s.Subscribe(ctx, caller.Caller{UserID: "bob"}, "free", "op"); errs.As(err).Code != "billing.plan_invalid" {
		t.Fatal(err)
	}
}

// Concurrent retries of one operation: one subscription, every Stripe call under the operation's keys.
func TestSubscribe_ConcurrentRetriesOfOneOperation(t *testing.T) {
	for round := range 20 {
		s, st, sp, _ := newService()
		var wg sync.WaitGroup
		subs := make(chan string, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sub, err := s.Subscribe(context.Background(), ada, "pro", "op")
				if err != nil {
					t.Error(err)
				}
				subs <- sub.StripeSubscriptionID
			}()
		}
		wg.Wait()
		close(subs)
		for id := range subs {
			if id != "sub_acme-ada-op-subscription" {
				t.Fatalf("round %d: %q", round, id)
			}
		}
		keys := map[string]bool{}
		for _, k := range sp.calls() {
			keys[k] = true
		}
		if len(keys) != 2 || len(st.published) != 1 {
			t.Fatalf("round %d: keys %v, %d events", round, keys, len(st.published))
		}
	}
}

func TestChangeCancelResume(t *testing.T) {
	s, st, _, now := newService()
	ctx := context.Background()
	if _, _, err := s.ChangePlan(ctx, ada, "enterprise", "c0"); errs.As(err).Code != "billing.not_subscribed" {
		t.Fatal(err)
	}
	s.Subscribe(ctx, ada, "pro", "op1")
	*now = t0.Add(15 * 24 * time.Hour)
	_, _, preview, _, err := s.PreviewChange(ctx, ada, "enterprise")
	if err != nil || preview != 8500 {
		t.Fatalf("preview %d %v", preview, err)
	}
	sub, cents, err := s.ChangePlan(ctx, ada, "enterprise", "c1")
	if err != nil || cents != preview || sub.Plan != "enterprise" || st.subs["ada"].ProrationCents != 8500 {
		t.Fatalf("%v %d %+v", err, cents, sub)
	}
	if _, again, _ := s.ChangePlan(ctx, ada, "enterprise", "c1"); again != cents {
		t.Fatalf("the retried change answered %d", again)
	}
	if sub, err := s.Cancel(ctx, ada, "x1"); err != nil || !sub.CancelAtPeriodEnd {
		t.Fatalf("%v %+v", err, sub)
	}
	if sub, err := s.Resume(ctx, ada, "x2"); err != nil || sub.CancelAtPeriodEnd {
		t.Fatalf("%v %+v", err, sub)
	}
	if _, err := s.Resume(ctx, ada, "x3"); errs.As(err).Code != "billing.not_canceled" {
		t.Fatal(err)
	}
}

func TestWebhook_OnceInOrderAndUnknownIgnored(t *testing.T) {
	s, st, sp, _ := newService()
	ctx := context.Background()
	sub, _ := s.Subscribe(ctx, ada, "pro", "op1")
	sp.webhooks["late"] = WebhookEvent{ID: "e1", Type: "customer.subscription.updated", Created: t0.Add(2 * time.Minute),
		SubscriptionID: sub.StripeSubscriptionID, Status: billing.PastDue}
	sp.webhooks["early"] = WebhookEvent{ID: "e2", Type: "customer.subscription.updated", Created: t0.Add(time.Minute),
		SubscriptionID: sub.StripeSubscriptionID, Status: billing.Active}
	sp.webhooks["odd"] = WebhookEvent{ID: "e3", Type: "charge.refunded", Created: t0}
	for _, tc := range []struct{ payload, sig, want, code string }{
		{"late", "bad", "", "billing.webhook_signature_invalid"},
		{"late", "good", Applied, ""},
		{"late", "good", Duplicate, ""},
		{"early", "good", Stale, ""},
		{"odd", "good", Ignored, ""},
	} {
		got, err := s.HandleWebhook(ctx, []byte(tc.payload), tc.sig)
		if got != tc.want || (tc.code != "" && errs.As(err).Code != tc.code) || (tc.code == "" && err != nil) {
			t.Fatalf("%s/%s: %q %v", tc.payload, tc.sig, got, err)
		}
	}
	if st.subs["ada"].Status != billing.PastDue {
		t.Fatalf("%+v", st.subs["ada"])
	}
}

func TestUsage_EachEventOnce(t *testing.T) {
	s, st, _, _ := newService()
	ctx := context.Background()
	evs := []events.Envelope{
		{EventID: "1", Type: "project.created", Payload: events.ProjectCreated{ProjectID: "p", OwnerID: "ada"}},
		{EventID: "2", Type: "project.member_added", Payload: events.MemberChanged{ProjectID: "p", UserID: "bob"}},
		{EventID: "2", Type: "project.member_added", Payload: events.MemberChanged{ProjectID: "p", UserID: "bob"}},
		{EventID: "1", Type: "project.created", Payload: events.ProjectCreated{ProjectID: "p", OwnerID: "ada"}},
	}
	for _, e := range evs {
		if _, err := s.CountProjectEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if u := st.usage["ada"]; u[billing.MeterProjects] != 1 || u[billing.MeterMembers] != 2 {
		t.Fatalf("%v", u)
	}
	for _, e := range []events.Envelope{
		{EventID: "f1", Type: "file.uploaded", Payload: events.FileEvent{ProjectID: "p", AccountID: "ada", SizeBytes: 700}},
		{EventID: "f1", Type: "file.uploaded", Payload: events.FileEvent{ProjectID: "p", AccountID: "ada", SizeBytes: 700}},
		{EventID: "f2", Type: "file.uploaded", Payload: events.FileEvent{ProjectID: "p", AccountID: "ada", SizeBytes: 300}},
		{EventID: "f3", Type: "file.deleted", Payload: events.FileEvent{ProjectID: "p", AccountID: "ada", SizeBytes: 700}},
	} {
		s.CountProjectEvent(ctx, e)
	}
	if u := st.usage["ada"]; u[billing.MeterStorageBytes] != 300 {
		t.Fatalf("storage: %v", u)
	}
	s.CountProjectEvent(ctx, events.Envelope{EventID: "3", Type: "project.deleted", Payload: events.ProjectDeleted{ProjectID: "p"}})
	if u := st.usage["ada"]; u[billing.MeterProjects] != 0 || u[billing.MeterMembers] != 0 {
		t.Fatalf("after delete: %v", u)
	}
}

// A transfer moves the project's whole usage (itself, its members, its files' bytes) to the new
// owner's account, once; files uploaded or deleted after it count there.
func TestUsage_MovesWithOwnership(t *testing.T) {
	s, st, _, _ := newService()
	ctx := context.Background()
	for _, e := range []events.Envelope{
		{EventID: "1", Type: "project.created", Payload: events.ProjectCreated{ProjectID: "p", OwnerID: "ada"}},
		{EventID: "1b", Type: "project.created", Payload: events.ProjectCreated{ProjectID: "q", OwnerID: "ada"}},
		{EventID: "2", Type: "project.member_added", Payload: events.MemberChanged{ProjectID: "p", UserID: "bob", Role: "editor"}},
		{EventID: "3", Type: "file.uploaded", Payload: events.FileEvent{ProjectID: "p", AccountID: "ada", SizeBytes: 500}},
		{EventID: "3b", Type: "file.uploaded", Payload: events.FileEvent{ProjectID: "q", AccountID: "ada", SizeBytes: 40}},
		// The transfer: bob becomes the owner, ada an admin (no move for her).
		{EventID: "4", Type: "project.member_role_changed", Payload: events.MemberChanged{ProjectID: "p", UserID: "bob", Role: "owner"}},
		{EventID: "5", Type: "project.member_role_changed", Payload: events.MemberChanged{ProjectID: "p", UserID: "ada", Role: "admin"}},
		{EventID: "4", Type: "project.member_role_changed", Payload: events.MemberChanged{ProjectID: "p", UserID: "bob", Role: "owner"}},
		// Uploaded before the transfer under ada's account, deleted after: it leaves bob's usage.
		{EventID: "6", Type: "file.deleted", Payload: events.FileEvent{ProjectID: "p", AccountID: "ada", SizeBytes: 200}},
	} {
		if _, err := s.CountProjectEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]map[string]int64{
		"ada": {billing.MeterProjects: 1, billing.MeterMembers: 1, billing.MeterStorageBytes: 40},
		"bob": {billing.MeterProjects: 1, billing.MeterMembers: 2, billing.MeterStorageBytes: 300},
	}
	for account, meters := range want {
		for meter, n := range meters {
			if got := st.usage[account][meter]; got != n {
				t.Errorf("%s %s = %d, want %d (all: %v)", account, meter, got, n, st.usage)
			}
		}
	}
}

func TestCloseDue_OneInvoicePerPeriodAndMirroredOnce(t *testing.T) {
	s, st, sp, now := newService()
	ctx := context.Background()
	s.Subscribe(ctx, ada, "pro", "op1")
	st.usage["ada"] = map[string]int64{billing.MeterMembers: 5}
	if n, _ := s.CloseDue(ctx); n != 0 {
		t.Fatal("invoiced before the period's end")
	}
	*now = t0.Add(31 * 24 * time.Hour)
	if n, err := s.CloseDue(ctx); n != 1 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	if n, _ := s.CloseDue(ctx); n != 0 {
		t.Fatal("the same period invoiced twice")
	}
	var inv billing.Invoice
	for _, i := range st.invoices {
		inv = i
	}
	if inv.TotalCents != 2900+3*500 || len(inv.Lines) != 2 {
		t.Fatalf("%+v", inv)
	}
	before := len(sp.calls())
	if n, err := s.Mirror(ctx); n != 1 || err != nil {
		t.Fatalf("%d %v", n, err)
	}
	if n, _ := s.Mirror(ctx); n != 0 {
		t.Fatal("mirrored twice")
	}
	if got := sp.calls()[before:]; len(got) != 2 || got[1] != "acme-invoice-"+inv.ID {
		t.Fatalf("%v", got)
	}
}

func TestReconcile_RepairsFromStripe(t *testing.T) {
	s, st, sp, _ := newService()
	ctx := context.Background()
	sub, _ := s.Subscribe(ctx, ada, "pro", "op1")
	sp.status[sub.StripeSubscriptionID] = billing.PastDue
	if checked, repaired, err := s.Reconcile(ctx); checked != 1 || repaired != 1 || err != nil {
		t.Fatalf("%d %d %v", checked, repaired, err)
	}
	if st.subs["ada"].Status != billing.PastDue {
		t.Fatalf("%+v", st.subs["ada"])
	}
	if _, repaired, _ := s.Reconcile(ctx); repaired != 0 {
		t.Fatal("repaired what agrees")
	}
}

func TestCheckEntitlement(t *testing.T) {
	s, _, _, _ := newService()
	ctx := context.Background()
	if _, err := s.CheckEntitlement(ctx, "ada", billing.MeterProjects, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckEntitlement(ctx, "ada", billing.MeterProjects, 4); errs.As(err).Kind != errs.KindPaymentRequired {
		t.Fatal(err)
	}
	if _, err := s.CheckEntitlement(ctx, "ada", "bananas", 1); errs.As(err).Code != "billing.meter_invalid" {
		t.Fatal(err)
	}
	s.Subscribe(ctx, ada, "pro", "op1")
	if _, err := s.CheckEntitlement(ctx, "ada", billing.MeterProjects, 4); err != nil {
		t.Fatal(err)
	}
}

// Two different operations subscribe at once: the one that loses the race refuses, and its Stripe
// subscription is canceled at once, so the account is charged for one.
func TestSubscribe_TheLoserOfARaceCancelsItsStripeSubscription(t *testing.T) {
	s, st, sp, _ := newService()
	ctx := context.Background()
	sp.onCreate = func() {
		if _, err := s.Subscribe(ctx, ada, "enterprise", "winner"); err != nil {
			t.Error(err)
		}
	}
	if _, err := s.Subscribe(ctx, ada, "pro", "loser"); errs.As(err).Code != "billing.already_subscribed" {
		t.Fatalf("%v", err)
	}
	if got := st.subs["ada"]; got.Plan != "enterprise" || got.StripeSubscriptionID != "sub_acme-ada-winner-subscription" {
		t.Fatalf("%+v", got)
	}
	calls := sp.calls()
	if calls[len(calls)-1] != "acme-ada-loser-compensate" {
		t.Fatalf("calls %v", calls)
	}
}
