package e2e

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/events"
)

type mail struct {
	ID      string
	Subject string
	HTML    string
}

// mailTo waits up to 10 s for mail to address in Mailpit and returns it.
func mailTo(t *testing.T, address, subject string) mail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list struct {
			Messages []struct {
				ID      string `json:"ID"`
				Subject string `json:"Subject"`
			} `json:"messages"`
		}
		resp, err := httpClient.Get(env.mailAPI + "/api/v1/search?query=" + url.QueryEscape(`to:"`+address+`"`))
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
		}
		for _, m := range list.Messages {
			if m.Subject == subject {
				var full struct {
					HTML string `json:"HTML"`
				}
				r, err := httpClient.Get(env.mailAPI + "/api/v1/message/" + m.ID)
				if err != nil {
					t.Fatal(err)
				}
				_ = json.NewDecoder(r.Body).Decode(&full)
				r.Body.Close()
				return mail{ID: m.ID, Subject: m.Subject, HTML: full.HTML}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail %q to %s within 10 s (have %+v, err %v)", subject, address, list.Messages, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var tokenInMail = regexp.MustCompile(`<code>([^<]+)</code>`)

// The whole loop: registration → user.registered → notifications → Dapr email binding → SMTP →
// Mailpit, and the token from that mail verifies the account.
func TestNotifications_VerificationMailVerifiesTheAccount(t *testing.T) {
	u := registerUser(t, "mail")
	m := mailTo(t, u.Email, "Confirm your email address")
	found := tokenInMail.FindStringSubmatch(m.HTML)
	if found == nil || !strings.Contains(m.HTML, "/verify-email?token=") || !strings.Contains(m.HTML, html.EscapeString(u.DisplayName)) {
		t.Fatalf("mail body %s", m.HTML)
	}
	var out struct{ User user }
	request(t, "POST", "/v1/auth/verify-email", map[string]any{"token": html.UnescapeString(found[1])}, nil).expect(t, http.StatusOK).decode(t, &out)
	if !out.User.EmailVerified {
		t.Fatal("not verified")
	}
}

func TestNotifications_InvitationMailOnMemberAdded(t *testing.T) {
	owner, member := newAccount(t, "inv-owner"), newAccount(t, "inv-member")
	p, _ := owner.createProject(t, map[string]any{"name": fmt.Sprintf("Invite Space %d", time.Now().UnixNano()%1000)})
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": member.ID, "role": "editor"}).expect(t, http.StatusCreated)
	m := mailTo(t, member.Email, "You were added to a project")
	if !strings.Contains(m.HTML, html.EscapeString(p.Name)) || !strings.Contains(m.HTML, "editor") || !strings.Contains(m.HTML, "/projects/"+p.ID) {
		t.Fatalf("invitation body %s", m.HTML)
	}
}

func TestNotifications_PasswordResetMailCarriesAWorkingToken(t *testing.T) {
	u := registerUser(t, "reset-mail")
	request(t, "POST", "/v1/auth/password-reset", map[string]any{"email": u.Email}, nil).expect(t, http.StatusAccepted)
	m := mailTo(t, u.Email, "Reset your password")
	found := tokenInMail.FindStringSubmatch(m.HTML)
	if found == nil {
		t.Fatalf("mail body %s", m.HTML)
	}
	request(t, "POST", "/v1/auth/password-reset/confirm", map[string]any{"token": html.UnescapeString(found[1]), "new_password": "reset by mail passphrase"}, nil).
		expect(t, http.StatusNoContent)
	login(t, u.Email, "reset by mail passphrase")
}

func TestNotifications_PreferencesSilenceInvitationsButNotAccountMail(t *testing.T) {
	owner, member := newAccount(t, "pref-owner"), newAccount(t, "pref-member")
	var prefs struct {
		Preferences []struct {
			Channel   string `json:"channel"`
			EventType string `json:"event_type"`
			Enabled   bool   `json:"enabled"`
		}
	}
	member.do(t, "GET", "/v1/users/me/notification-preferences", nil).expect(t, http.StatusOK).decode(t, &prefs)
	if len(prefs.Preferences) != 1 || !prefs.Preferences[0].Enabled || prefs.Preferences[0].EventType != "project.member_added" {
		t.Fatalf("defaults %+v", prefs.Preferences)
	}
	member.do(t, "PUT", "/v1/users/me/notification-preferences", map[string]any{"preferences": []map[string]any{
		{"channel": "email", "event_type": "user.registered", "enabled": false}}}).expectError(t, http.StatusBadRequest, "preference.not_optional")
	member.do(t, "PUT", "/v1/users/me/notification-preferences", map[string]any{"preferences": []map[string]any{
		{"channel": "email", "event_type": "project.member_added"}}}).expectError(t, http.StatusBadRequest, "request.field_required")
	member.do(t, "PUT", "/v1/users/me/notification-preferences", map[string]any{"preferences": []map[string]any{
		{"channel": "email", "event_type": "project.member_added", "enabled": false}}}).expect(t, http.StatusOK).decode(t, &prefs)
	if prefs.Preferences[0].Enabled {
		t.Fatalf("after turning off %+v", prefs.Preferences)
	}
	// Events of one project are handled in order, so once the second member's invitation (sent
	// after the silenced one on the same project) arrives, the silenced one was handled too.
	witness := newAccount(t, "pref-witness")
	p, _ := owner.createProject(t, map[string]any{"name": "Quiet Space"})
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": member.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": witness.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	mailTo(t, witness.Email, "You were added to a project")
	var list struct {
		Messages []struct {
			Subject string `json:"Subject"`
		} `json:"messages"`
	}
	resp, err := httpClient.Get(env.mailAPI + "/api/v1/search?query=" + url.QueryEscape(`to:"`+member.Email+`"`))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	for _, msg := range list.Messages {
		if msg.Subject == "You were added to a project" {
			t.Fatal("an invitation went out although the member turned invitations off")
		}
	}
	// Account mail still goes out.
	request(t, "POST", "/v1/auth/password-reset", map[string]any{"email": member.Email}, nil).expect(t, http.StatusAccepted)
	mailTo(t, member.Email, "Reset your password")
}

// Billing events (no billing service publishes them yet; the test does, as billing would: an Avro
// record on acme.billing.events) become mail to the account's billing address, once per event.
func TestNotifications_BillingEventsAreMailed(t *testing.T) {
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	address := uniqueEmail("billing")
	account := uuid.NewString()
	publish := func(typ string, payload any) {
		t.Helper()
		e := events.Envelope{EventID: uuid.NewString(), Type: typ, OccurredAt: time.Now().UTC(), Subject: account,
			Actor: "stripe", Region: "eu", AggregateVersion: 1, Payload: payload}
		b, err := codec.Encode(events.TopicBilling, e)
		if err != nil {
			t.Fatal(err)
		}
		produce(t, events.TopicBilling, b)
		produce(t, events.TopicBilling, b) // delivered twice, mailed once
	}
	publish("invoice.payment_failed", events.InvoiceEvent{AccountID: account, InvoiceID: "in_e2e_1", AmountCents: 4200,
		Currency: "eur", Status: "open", BillingEmail: address})
	publish("subscription.canceled", events.SubscriptionChanged{AccountID: account, SubscriptionID: "sub_1", Plan: "Team",
		Status: "canceled", BillingEmail: address})
	m := mailTo(t, address, "Your payment failed")
	if !strings.Contains(m.HTML, "42.00 EUR") || !strings.Contains(m.HTML, "in_e2e_1") {
		t.Errorf("payment mail: %s", m.HTML)
	}
	// The body travels quoted (as the SES binding requires) and arrives as the HTML itself.
	if !strings.HasPrefix(m.HTML, "<!doctype html>") || strings.Contains(m.HTML, `\n`) || strings.Contains(m.HTML, `\"`) {
		t.Errorf("the mail body is not the rendered HTML: %q", m.HTML[:min(len(m.HTML), 120)])
	}
	if m := mailTo(t, address, "Your subscription is canceled"); !strings.Contains(m.HTML, "Team") {
		t.Errorf("cancellation mail: %s", m.HTML)
	}
	time.Sleep(time.Second)
	if n := countMail(t, address); n != 2 {
		t.Errorf("%d mails to %s, want 2 (each event once)", n, address)
	}
}

func countMail(t *testing.T, address string) int {
	t.Helper()
	var list struct {
		MessagesCount int `json:"messages_count"`
	}
	resp, err := httpClient.Get(env.mailAPI + "/api/v1/search?query=" + url.QueryEscape(`to:"`+address+`"`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list.MessagesCount
}
