package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/services/notifications/templates"
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
	s := &Service{Mailer: mailer, Claims: memClaims{}, Templates: templates.All, BaseURL: "https://app.example"}
	e := events.Envelope{EventID: "e1", Type: "user.registered",
		Payload: events.UserRegistered{UserID: "u", Email: "ada@example.com", DisplayName: "Ada <b>", VerificationToken: "tok"}}
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
	if want := "Ada &lt;b&gt;"; !strings.Contains(m.HTML, want) || !strings.Contains(m.HTML, "https://app.example/verify-email?token=tok") {
		t.Fatalf("body %s", m.HTML)
	}
	// Events that call for no mail are acknowledged without one.
	if err := s.Handle(context.Background(), events.Envelope{EventID: "e2", Type: "user.erased", Payload: events.UserErased{UserID: "u"}}); err != nil {
		t.Fatal(err)
	}
	if len(mailer.sent) != 1 {
		t.Fatal("an unrelated event sent mail")
	}
}
