package e2e

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/platform/services/platform/events"
)

type auditRecord struct {
	EventID string            `json:"event_id"`
	Type    string            `json:"type"`
	Subject string            `json:"subject"`
	Actor   string            `json:"actor"`
	Region  string            `json:"region"`
	Source  string            `json:"source"`
	Outcome string            `json:"outcome"`
	Topic   string            `json:"topic"`
	Details map[string]string `json:"details"`
}

var (
	adminOnce  sync.Once
	adminToken string
	adminUser  user
)

// bootstrapAdmin makes the suite's platform admin the way a new platform gets its first one: the
// listed address (BOOTSTRAP_ADMIN_EMAILS) registers as a member and becomes admin when it verifies
// its email (once per run).
func bootstrapAdmin(t *testing.T) (user, string) {
	t.Helper()
	adminOnce.Do(func() {
		u := registerUserWith(t, adminEmail)
		if strings.Contains(strings.Join(u.Roles, ","), "admin") {
			t.Fatalf("the bootstrap address was admin before verifying its email: %v", u.Roles)
		}
		verifyByMail(t, adminEmail)
		res := login(t, adminEmail, goodPassword)
		adminUser, adminToken = res.User, res.AccessToken
	})
	return adminUser, adminToken
}

// verifyByMail verifies address with the token of its verification mail.
func verifyByMail(t *testing.T, address string) {
	t.Helper()
	token := tokenFromMail(t, address, "Confirm your email address")
	request(t, "POST", "/v1/auth/verify-email", map[string]any{"token": token}, nil).expect(t, http.StatusOK)
}

// tokenFromMail is the token the mail with subject to address carries.
func tokenFromMail(t *testing.T, address, subject string) string {
	t.Helper()
	m := mailTo(t, address, subject)
	found := tokenInMail.FindStringSubmatch(m.HTML)
	if found == nil {
		t.Fatalf("no token in the mail %q to %s", subject, address)
	}
	return html.UnescapeString(found[1])
}

// asAdmin signs in the suite's bootstrap platform admin.
func asAdmin(t *testing.T) map[string]string {
	t.Helper()
	_, token := bootstrapAdmin(t)
	return bearer(token)
}

// auditRecords polls the audit log through the gateway until want holds for the records of query,
// or 10 s pass.
func auditRecords(t *testing.T, query url.Values, want func([]auditRecord) bool) []auditRecord {
	t.Helper()
	return auditRecordsWithin(t, 10*time.Second, query, want)
}

// auditRecordsWithin is auditRecords with another patience; while audit is unreachable (503) it keeps
// asking.
func auditRecordsWithin(t *testing.T, patience time.Duration, query url.Values, want func([]auditRecord) bool) []auditRecord {
	t.Helper()
	deadline := time.Now().Add(patience)
	var page struct{ Records []auditRecord }
	for {
		page.Records = nil
		r := request(t, "GET", "/v1/audit/records?"+query.Encode(), nil, asAdmin(t))
		if r.Status == http.StatusOK {
			r.decode(t, &page)
			if want(page.Records) {
				return page.Records
			}
		} else if r.Status != http.StatusServiceUnavailable {
			r.expect(t, http.StatusOK)
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit records for %v after %s: %+v (last status %d)", query, patience, page.Records, r.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEvents_UserRegisteredReachesAuditThroughKafka(t *testing.T) {
	u := registerUser(t, "audit")
	// Two records: the audit record users wrote to acme.audit.log, and the domain event itself from
	// acme.users.events, recorded without its payload (no email in the audit log).
	recs := auditRecords(t, url.Values{"subject": {u.ID}}, func(rs []auditRecord) bool { return len(rs) >= 2 })
	byTopic := map[string]auditRecord{}
	for _, r := range recs {
		if _, dup := byTopic[r.Topic]; dup {
			t.Fatalf("a record twice: %+v", recs)
		}
		byTopic[r.Topic] = r
	}
	for _, topic := range []string{events.TopicAudit, events.TopicUsers} {
		r := byTopic[topic]
		if r.Type != "user.registered" || r.Actor != u.ID || r.Region != "eu" || r.Source != "users" || r.Outcome != "success" {
			t.Fatalf("%s record %+v", topic, r)
		}
	}

	// A login and a logout are audited too, under the session's id.
	s := login(t, u.Email, goodPassword)
	request(t, "POST", "/v1/auth/logout", nil, bearer(s.AccessToken)).expect(t, 204)
	auditRecords(t, url.Values{"type": {"session.ended"}, "actor": {u.ID}}, func(rs []auditRecord) bool { return len(rs) == 1 })
}

func TestAudit_QueryIsForAdminsOnly(t *testing.T) {
	a := newAccount(t, "audit-nonadmin")
	a.do(t, "GET", "/v1/audit/records", nil).expectError(t, http.StatusForbidden, "audit.admin_only")
	a.do(t, "GET", "/v1/audit/verify", nil).expectError(t, http.StatusForbidden, "audit.admin_only")
	h := asAdmin(t)
	request(t, "GET", "/v1/audit/records?from=yesterday", nil, h).expectError(t, http.StatusBadRequest, "request.query_invalid")
	request(t, "GET", "/v1/audit/records?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", nil, h).
		expectError(t, http.StatusBadRequest, "audit.time_range_invalid")
	request(t, "GET", "/v1/audit/records?page_token=zzz", nil, h).expectError(t, http.StatusBadRequest, "audit.page_token_invalid")
	request(t, "GET", "/v1/audit/records?page_size=501", nil, h).expectError(t, http.StatusBadRequest, "request.query_invalid")
	// Paging: two records at a time, no overlap.
	var first struct {
		Records []auditRecord
		Next    string `json:"next_page_token"`
	}
	request(t, "GET", "/v1/audit/records?page_size=2", nil, h).expect(t, http.StatusOK).decode(t, &first)
	var second struct{ Records []auditRecord }
	request(t, "GET", "/v1/audit/records?page_size=2&page_token="+first.Next, nil, h).expect(t, http.StatusOK).decode(t, &second)
	if len(first.Records) != 2 || first.Next == "" || len(second.Records) == 0 || second.Records[0].EventID == first.Records[1].EventID {
		t.Fatalf("pages %+v / %+v", first, second)
	}
}

type verdict struct {
	Intact      bool  `json:"intact"`
	Checked     int64 `json:"checked"`
	FirstBroken *struct {
		Seq     int64  `json:"seq"`
		EventID string `json:"event_id"`
		Reason  string `json:"reason"`
	} `json:"first_broken"`
}

// The log is append-only in the database, and someone who gets around that (here: by disabling the
// trigger, as a database superuser could) is caught by the hash chain at exactly the altered record.
func TestAudit_ChainVerifiesAndCatchesTampering(t *testing.T) {
	u := registerUser(t, "tamper")
	target := auditRecords(t, url.Values{"subject": {u.ID}, "type": {"user.registered"}}, func(rs []auditRecord) bool { return len(rs) == 2 })[0]
	h := asAdmin(t)
	var v verdict
	request(t, "GET", "/v1/audit/verify", nil, h).expect(t, http.StatusOK).decode(t, &v)
	if !v.Intact || v.Checked < 2 || v.FirstBroken != nil {
		t.Fatalf("verdict before tampering %+v", v)
	}

	ctx := context.Background()
	db, err := pgx.Connect(ctx, env.auditDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(ctx) }) // after the restoring cleanup below: cleanups run last-in first-out
	if _, err := db.Exec(ctx, `UPDATE audit_records SET actor = 'mallory' WHERE event_id = $1`, target.EventID); err == nil {
		t.Fatal("the database let a record be changed")
	}
	if _, err := db.Exec(ctx, `DELETE FROM audit_records WHERE event_id = $1`, target.EventID); err == nil {
		t.Fatal("the database let a record be deleted")
	}
	tamper := func(actor string) {
		t.Helper()
		err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only`, nil},
				{`UPDATE audit_records SET actor = $1 WHERE event_id = $2`, []any{actor, target.EventID}},
				{`ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only`, nil},
			} {
				if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
					return fmt.Errorf("%s: %w", q.sql, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tamper("mallory")
	t.Cleanup(func() { tamper(target.Actor) }) // put it back: later tests verify the chain too
	var seq int64
	if err := db.QueryRow(ctx, `SELECT seq FROM audit_records WHERE event_id = $1`, target.EventID).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	request(t, "GET", "/v1/audit/verify", nil, h).expect(t, http.StatusOK).decode(t, &v)
	if v.Intact || v.FirstBroken == nil || v.FirstBroken.Seq != seq || v.FirstBroken.EventID != target.EventID {
		t.Fatalf("verdict after altering seq %d: %+v", seq, v)
	}
	tamper(target.Actor)
	request(t, "GET", "/v1/audit/verify", nil, h).expect(t, http.StatusOK).decode(t, &v)
	if !v.Intact {
		t.Fatalf("verdict after restoring %+v", v)
	}
}
