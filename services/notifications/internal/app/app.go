// Package app turns events into emails: a verification mail on user.registered, a reset mail on
// user.password_reset_requested, an invitation on project.member_added, billing mail on
// invoice.paid, invoice.payment_failed and subscription.canceled. Each event is mailed once:
// a claim on its id, taken before sending, makes a redelivery a no-op.
package app

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
)

// Email is one message to send.
type Email struct {
	To, Subject, HTML string
	// link, when set, is a token to ask users for once the event is claimed, and the template to
	// render with it: events carry no usable secret.
	link *pendingLink
}

type pendingLink struct {
	userID, purpose, path, template string
	data                            map[string]any
}

// Mailer sends email (the Dapr email binding: SMTP locally, SES on Kubernetes).
type Mailer interface {
	Send(ctx context.Context, e Email) error
}

// Claims remember which events were handled.
type Claims interface {
	// Claim returns false when id was claimed before.
	Claim(ctx context.Context, id string, ttl time.Duration) (bool, error)
	Release(ctx context.Context, id string) error
}

// Users looks up an addressee, and issues the token a mail carries.
type Users interface {
	Contact(ctx context.Context, userID string) (email, name string, err error)
	// MailToken is a fresh token for the mail (verify_email, reset_password); a conflict when
	// there is nothing to send any more (the address is verified already).
	MailToken(ctx context.Context, userID, purpose string) (string, error)
}

// Service sends the platform's emails.
type Service struct {
	Mailer    Mailer
	Claims    Claims
	Users     Users
	Prefs     PreferenceStore
	Templates *template.Template
	// BaseURL is where links in mails point (the web app).
	BaseURL string
	// Webhooks delivers project events to customer endpoints and Slack.
	Webhooks *Webhooks
}

// ClaimTTL is how long a handled event is remembered: longer than any redelivery.
const ClaimTTL = 7 * 24 * time.Hour

// Handle mails what e calls for and purges an erased user's preferences; other events are ignored.
func (s *Service) Handle(ctx context.Context, e events.Envelope) error {
	if p, ok := e.Payload.(events.UserErased); ok {
		return s.Prefs.Delete(ctx, p.UserID)
	}
	if s.Webhooks != nil && strings.HasPrefix(e.Type, "project.") {
		// First the endpoints of someone who just lost the right to them, so this very event does
		// not reach them.
		if err := s.Webhooks.RevokeCreator(ctx, e); err != nil {
			return err
		}
		if err := s.Webhooks.Fanout(ctx, e); err != nil {
			return err
		}
	}
	email, err := s.compose(ctx, e)
	if err != nil || email == nil {
		return err
	}
	first, err := s.Claims.Claim(ctx, e.EventID, ClaimTTL)
	if err != nil || !first {
		return err
	}
	if email.link != nil { // the token is made now, once the event is ours, so a redelivery makes none
		if err := s.withLink(ctx, email); err != nil {
			_ = s.Claims.Release(ctx, e.EventID)
			if errs.As(err).Kind == errs.KindConflict {
				return nil // nothing to send any more
			}
			return err
		}
	}
	if err := s.Mailer.Send(ctx, *email); err != nil {
		_ = s.Claims.Release(ctx, e.EventID) // let the retry send it
		return err
	}
	return nil
}

func (s *Service) compose(ctx context.Context, e events.Envelope) (*Email, error) {
	switch p := e.Payload.(type) {
	case events.UserRegistered:
		return &Email{To: p.Email, Subject: "Confirm your email address", link: &pendingLink{userID: p.UserID, purpose: "verify_email",
			path: "/verify-email", template: "verify_email.html", data: map[string]any{"Name": p.DisplayName, "Email": p.Email}}}, nil
	case events.PasswordResetRequested:
		return &Email{To: p.Email, Subject: "Reset your password", link: &pendingLink{userID: p.UserID, purpose: "reset_password",
			path: "/reset-password", template: "reset_password.html", data: map[string]any{"Email": p.Email}}}, nil
	case events.InvoiceEvent:
		if p.BillingEmail == "" {
			return nil, nil
		}
		data := map[string]any{"Invoice": p.InvoiceID, "Amount": money(p.AmountCents, p.Currency), "Link": s.BaseURL + "/billing"}
		switch e.Type {
		case "invoice.paid":
			return s.render("invoice_paid.html", p.BillingEmail, "Your invoice is paid", data)
		case "invoice.payment_failed":
			return s.render("invoice_payment_failed.html", p.BillingEmail, "Your payment failed", data)
		}
		return nil, nil
	case events.SubscriptionChanged:
		if e.Type != "subscription.canceled" || p.BillingEmail == "" {
			return nil, nil
		}
		return s.render("subscription_canceled.html", p.BillingEmail, "Your subscription is canceled",
			map[string]any{"Plan": p.Plan, "Link": s.BaseURL + "/billing"})
	case events.MemberChanged:
		if e.Type != "project.member_added" {
			return nil, nil
		}
		if want, err := s.wants(ctx, p.UserID, "email", e.Type); err != nil || !want {
			return nil, err
		}
		to, name, err := s.Users.Contact(ctx, p.UserID)
		if errs.As(err).Kind == errs.KindNotFound {
			return nil, nil // erased since: nobody to tell
		}
		if err != nil {
			return nil, err
		}
		return s.render("invitation.html", to, "You were added to a project", map[string]any{
			"Name": name, "Project": p.ProjectName, "Role": p.Role, "Link": s.BaseURL + "/projects/" + p.ProjectID})
	}
	return nil, nil
}

// money formats minor units: 1234 EUR is "12.34 EUR".
func money(cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, cents/100, cents%100, strings.ToUpper(currency))
}

// withLink asks users for the mail's token and renders the mail with it.
func (s *Service) withLink(ctx context.Context, email *Email) error {
	l := email.link
	token, err := s.Users.MailToken(ctx, l.userID, l.purpose)
	if err != nil {
		return err
	}
	l.data["Token"], l.data["Link"] = token, s.BaseURL+l.path+"?token="+url.QueryEscape(token)
	rendered, err := s.render(l.template, email.To, email.Subject, l.data)
	if err != nil {
		return err
	}
	*email = *rendered
	return nil
}

func (s *Service) render(tmpl, to, subject string, data map[string]any) (*Email, error) {
	var b bytes.Buffer
	if err := s.Templates.ExecuteTemplate(&b, tmpl, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", tmpl, err)
	}
	return &Email{To: to, Subject: subject, HTML: b.String()}, nil
}
