package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/services/notifications/templates"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
)

type fakeMailer struct {
	sent []Email
	fail bool
}

func (f *fakeMailer) Send(_ context.Context, e Email) error {
	if f.fail {
		return errors.New("smtp down")
	}
	f.sent = append(f.sent, e)
	return nil
}

type memClaims map[string]bool

func (m memClaims) Claim(_ context.Context, id string, _ time.Duration) (bool, error) {
	if m[id] {
		return false, nil
	}
	m[id] = true
	return true, nil
}

func (m memClaims) Release(_ context.Context, id string) error { delete(m, id); return nil }

func TestHandle_MailsEachEventOnceAndRetriesAFailedSend(t *testing.T) {
	mailer := &fakeMailer{fail: true}
	users := &staticUsers{}
	s := &Service{Mailer: mailer, Claims: memClaims{}, Prefs: memPrefs{}, Templates: templates.All, BaseURL: "https://app.example", Users: users}
	// The event carries no token (issue 11, item 7): the mail's is issued when it is sent.
	e := events.Envelope{EventID: "e1", Type: "user.registered",
		Payload: events.UserRegistered{UserID: "u", Email: "ada@example.com", DisplayName: "Ada <b>"}}
	if err := s.Handle(context.Background(), e); err == nil {
		t.Fatal("a failed send was acknowledged")
	}
	mailer.fail = false
	for i := 0; i < 3; i++ { // the retry, then two redeliveries
		if err := s.Handle(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if len(mailer.sent) != 1 {
		t.Fatalf("%d mails, want 1", len(mailer.sent))
	}
	m := mailer.sent[0]
	if m.To != "ada@example.com" || m.Subject != "Confirm your email address" {
		t.Fatalf("mail %+v", m)
	}
	// HTML templates escape what users typed.
	if want := "Ada &lt;b&gt;"; !strings.Contains(m.HTML, want) || !strings.Contains(m.HTML, "https://app.example/verify-email?token=tok-2") {
		t.Fatalf("body %s", m.HTML)
	}
	// A token for the failed send and one for the retry that sent; the redeliveries asked for none.
	if users.issued != 2 {
		t.Fatalf("%d tokens issued, want 2", users.issued)
	}
	// Events that call for no mail are acknowledged without one.
	if err := s.Handle(context.Background(), events.Envelope{EventID: "e2", Type: "user.erased", Payload: events.UserErased{UserID: "u"}}); err != nil {
		t.Fatal(err)
	}
	if len(mailer.sent) != 1 {
		t.Fatal("an unrelated event sent mail")
	}
}

type memPrefs map[string]map[string]bool

func (m memPrefs) Get(_ context.Context, id string) (map[string]bool, error) {
	out := map[string]bool{}
	for k, v := range m[id] {
		out[k] = v
	}
	return out, nil
}

func (m memPrefs) Put(_ context.Context, id string, p map[string]bool) error { m[id] = p; return nil }

func (m memPrefs) Delete(_ context.Context, id string) error { delete(m, id); return nil }

func TestHandle_ErasureForgetsPreferencesAndSilencedInvitationsStaySilent(t *testing.T) {
	mailer, prefs := &fakeMailer{}, memPrefs{}
	s := &Service{Mailer: mailer, Claims: memClaims{}, Prefs: prefs, Templates: templates.All, Users: &staticUsers{}}
	ctx := context.Background()
	c := caller.Caller{UserID: "u"}
	if _, err := s.SetPreferences(ctx, c, []Preference{{Channel: "email", EventType: "project.member_added"}}); err != nil {
		t.Fatal(err)
	}
	invite := events.Envelope{EventID: "i1", Type: "project.member_added", Payload: events.MemberChanged{ProjectID: "p", UserID: "u", Role: "viewer"}}
	if err := s.Handle(ctx, invite); err != nil || len(mailer.sent) != 0 {
		t.Fatalf("silenced invitation: %v, %d mails", err, len(mailer.sent))
	}
	if _, err := s.SetPreferences(ctx, c, []Preference{{Channel: "email", EventType: "user.registered"}}); errs.As(err).Code != "preference.not_optional" {
		t.Fatalf("account mail could be turned off: %v", err)
	}
	if err := s.Handle(ctx, events.Envelope{EventID: "x", Type: "user.erased", Payload: events.UserErased{UserID: "u"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := prefs["u"]; ok {
		t.Fatal("preferences of an erased user were kept")
	}
}

type staticUsers struct{ issued int }

func (*staticUsers) Contact(context.Context, string) (string, string, error) {
	return "u@example.com", "U", nil
}

func (u *staticUsers) MailToken(context.Context, string, string) (string, error) {
	u.issued++
	return fmt.Sprintf("tok-%d", u.issued), nil
}

func TestMoney_FormatsMinorUnits(t *testing.T) {
	for cents, want := range map[int64]string{1234: "12.34 EUR", 5: "0.05 EUR", -250: "-2.50 EUR", 100000: "1000.00 EUR"} {
		if got := money(cents, "eur"); got != want {
			t.Errorf("%d: %q, want %q", cents, got, want)
		}
	}
}
