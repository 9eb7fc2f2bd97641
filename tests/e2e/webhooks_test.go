package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a customer's endpoint: it answers the statuses it is given, in turn, then 200.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []received
}

type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body, at: time.Now()})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received{}, r.got...)
}

func (r *receiver) waitFor(t *testing.T, n int, within time.Duration) []received {
	t.Helper()
	if !eventually(within, 50*time.Millisecond, func() bool { return len(r.requests()) >= n }) {
		t.Fatalf("the receiver got %d requests in %v, want %d", len(r.requests()), within, n)
	}
	return r.requests()
}

// verifySignature checks Acme-Signature the way the OpenAPI description tells customers to.
func verifySignature(t *testing.T, secret string, r received) {
	t.Helper()
	var ts, sig string
	for _, part := range strings.Split(r.header.Get("Acme-Signature"), ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(r.body)
	want := hex.EncodeToString(mac.Sum(nil))
	if ts == "" || !hmac.Equal([]byte(sig), []byte(want)) {
		t.Errorf("signature %q does not verify (want v1=%s)", r.header.Get("Acme-Signature"), want)
	}
}

type webhookView struct {
	ID                  string   `json:"id"`
	URL                 string   `json:"url"`
	EventTypes          []string `json:"event_types"`
	Enabled             bool     `json:"enabled"`
	ConsecutiveFailures int      `json:"consecutive_failures"`
	DisabledReason      string   `json:"disabled_reason"`
}

type deliveryView struct {
	ID        string `json:"id"`
	EventType string `json:"event_type"`
	Status    string `json:"status"`
	Attempts  []struct {
		Attempt    int   `json:"attempt"`
		StatusCode int   `json:"status_code"`
		LatencyMS  int64 `json:"latency_ms"`
	} `json:"attempts"`
}

func (a account) createWebhook(t *testing.T, projectID string, body map[string]any) (webhookView, string) {
	t.Helper()
	var out struct {
		Webhook webhookView
		Secret  string
	}
	a.do(t, "POST", "/v1/projects/"+projectID+"/webhooks", body).expect(t, http.StatusCreated).decode(t, &out)
	return out.Webhook, out.Secret
}

// A customer webhook: the receiver fails twice, the delivery is retried with backoff and succeeds on
// the third attempt; every attempt is signed and logged; other event types are not sent.
func TestWebhooks_SignedDeliveryRetriedUntilItSucceeds(t *testing.T) {
	owner, member := newAccount(t, "hook-owner"), newAccount(t, "hook-member")
	p, _ := owner.createProject(t, map[string]any{"name": "Hooked"})
	rcv := newReceiver(t, http.StatusInternalServerError, http.StatusBadGateway)
	secret := "whsec_e2e_0123456789abcdef"
	hook, shown := owner.createWebhook(t, p.ID, map[string]any{"url": rcv.URL + "/acme", "secret": secret,
		"event_types": []string{"project.member_added", "project.updated"}})
	if shown != secret || !hook.Enabled {
		t.Fatalf("created %+v, secret %q", hook, shown)
	}

	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": member.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	got := rcv.waitFor(t, 3, 30*time.Second)
	id := got[0].header.Get("Acme-Webhook-Id")
	for i, r := range got {
		verifySignature(t, secret, r)
		if r.header.Get("Acme-Webhook-Id") != id || r.header.Get("Acme-Event-Type") != "project.member_added" {
			t.Errorf("attempt %d: id %q type %q", i+1, r.header.Get("Acme-Webhook-Id"), r.header.Get("Acme-Event-Type"))
		}
	}
	var ev struct {
		Type      string         `json:"type"`
		ProjectID string         `json:"project_id"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(got[2].body, &ev); err != nil || ev.Type != "project.member_added" || ev.ProjectID != p.ID || ev.Data["user_id"] != member.ID {
		t.Errorf("body %s (%v)", got[2].body, err)
	}
	gap1, gap2 := got[1].at.Sub(got[0].at), got[2].at.Sub(got[1].at)
	t.Logf("retries after %v and %v", gap1.Round(time.Millisecond), gap2.Round(time.Millisecond))

	var log struct{ Deliveries []deliveryView }
	eventually(10*time.Second, 100*time.Millisecond, func() bool {
		owner.do(t, "GET", "/v1/projects/"+p.ID+"/webhooks/"+hook.ID+"/deliveries", nil).expect(t, http.StatusOK).decode(t, &log)
		return len(log.Deliveries) == 1 && log.Deliveries[0].Status == "succeeded"
	})
	if len(log.Deliveries) != 1 || log.Deliveries[0].Status != "succeeded" || log.Deliveries[0].ID != id || len(log.Deliveries[0].Attempts) != 3 {
		t.Fatalf("delivery log %+v", log.Deliveries)
	}
	for i, want := range []int{500, 502, 200} {
		if a := log.Deliveries[0].Attempts[i]; a.Attempt != i+1 || a.StatusCode != want || a.LatencyMS < 0 {
			t.Errorf("attempt %d logged as %+v, want status %d", i+1, a, want)
		}
	}

	// The attempts are counted on notifications' /metrics.
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", env.topo.App("notifications").AppMetricsPort))
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`(?m)^acme_webhook_attempts_total\{kind="webhook",.*outcome="failed".*\} ([2-9]|[1-9][0-9]+)$`,
		`(?m)^acme_webhook_attempts_total\{kind="webhook",.*outcome="succeeded".*\} [1-9][0-9]*$`, `(?m)^acme_webhook_attempt_seconds_bucket\{`} {
		if !regexp.MustCompile(want).Match(metrics) {
			t.Errorf("notifications' /metrics has no line matching %s", want)
		}
	}

	// member_removed is not subscribed, project.updated is: only the update arrives.
	owner.do(t, "DELETE", "/v1/projects/"+p.ID+"/members/"+member.ID, nil).expect(t, http.StatusNoContent)
	owner.do(t, "PATCH", "/v1/projects/"+p.ID, map[string]any{"name": "Hooked Again"}, "If-Match", `"3"`).expect(t, http.StatusOK)
	got = rcv.waitFor(t, 4, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	got = rcv.requests()
	if len(got) != 4 || got[3].header.Get("Acme-Event-Type") != "project.updated" {
		var types []string
		for _, r := range got {
			types = append(types, r.header.Get("Acme-Event-Type"))
		}
		t.Errorf("deliveries %v, want the three attempts and then project.updated only", types)
	}
	verifySignature(t, secret, got[len(got)-1])
}

// An endpoint that keeps failing is disabled after a run of failures (WEBHOOK_DISABLE_AFTER=3 in
// this suite) and is enabled again by an admin.
func TestWebhooks_DisabledAfterARunOfFailuresAndReenabled(t *testing.T) {
	owner := newAccount(t, "hook-disable")
	p, _ := owner.createProject(t, map[string]any{"name": "Flaky Receiver"})
	rcv := newReceiver(t, 500, 500, 500, 500, 500, 500, 500, 500)
	hook, _ := owner.createWebhook(t, p.ID, map[string]any{"url": rcv.URL, "event_types": []string{"*"}})
	owner.do(t, "PATCH", "/v1/projects/"+p.ID, map[string]any{"name": "Flaky Receiver 2"}, "If-Match", `"1"`).expect(t, http.StatusOK)
	rcv.waitFor(t, 3, 30*time.Second)
	var list struct{ Webhooks []webhookView }
	eventually(10*time.Second, 100*time.Millisecond, func() bool {
		owner.do(t, "GET", "/v1/projects/"+p.ID+"/webhooks", nil).expect(t, http.StatusOK).decode(t, &list)
		return len(list.Webhooks) == 1 && !list.Webhooks[0].Enabled
	})
	if len(list.Webhooks) != 1 || list.Webhooks[0].Enabled || list.Webhooks[0].ConsecutiveFailures != 3 || list.Webhooks[0].DisabledReason == "" {
		t.Fatalf("after three failures: %+v", list.Webhooks)
	}
	time.Sleep(time.Second)
	if n := len(rcv.requests()); n != 3 {
		t.Errorf("a disabled endpoint got %d requests, want 3", n)
	}
	var log struct{ Deliveries []deliveryView }
	owner.do(t, "GET", "/v1/projects/"+p.ID+"/webhooks/"+hook.ID+"/deliveries", nil).expect(t, http.StatusOK).decode(t, &log)
	if len(log.Deliveries) != 1 || log.Deliveries[0].Status != "endpoint_disabled" {
		t.Errorf("deliveries %+v", log.Deliveries)
	}
	var enabled struct{ Webhook webhookView }
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/webhooks/"+hook.ID+"/enable", nil).expect(t, http.StatusOK).decode(t, &enabled)
	if !enabled.Webhook.Enabled || enabled.Webhook.ConsecutiveFailures != 0 {
		t.Errorf("enabled: %+v", enabled.Webhook)
	}
}

// Who may manage webhooks, and which targets are refused.
func TestWebhooks_RefusesStrangersViewersAndInternalTargets(t *testing.T) {
	owner, viewer, stranger := newAccount(t, "hook-guard"), newAccount(t, "hook-viewer"), newAccount(t, "hook-stranger")
	p, _ := owner.createProject(t, map[string]any{"name": "Guarded Hooks"})
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": viewer.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	ok := map[string]any{"url": "http://127.0.0.1:9/allowed-by-the-suite", "event_types": []string{"*"}}
	path := "/v1/projects/" + p.ID + "/webhooks"
	viewer.do(t, "POST", path, ok).expectError(t, http.StatusForbidden, "webhook.forbidden")
	viewer.do(t, "GET", path, nil).expectError(t, http.StatusForbidden, "webhook.forbidden")
	stranger.do(t, "GET", path, nil).expectError(t, http.StatusNotFound, "project.not_found")
	cases := []struct {
		url, code string
	}{
		{"http://10.1.2.3/hook", "webhook.url_forbidden"},
		{"https://192.168.1.10/hook", "webhook.url_forbidden"},
		{"http://169.254.169.254/latest/meta-data", "webhook.url_forbidden"},
		{"https://[::1]/hook", "webhook.url_forbidden"},
		{"http://[fe80::1]/hook", "webhook.url_forbidden"},
		{"ftp://example.com/hook", "webhook.url_invalid"},
		{"https://user:pw@example.com/", "webhook.url_invalid"},
		{"not a url", "webhook.url_invalid"},
		{"https://acme-e2e.invalid/hook", "webhook.url_unresolvable"},
	}
	for _, tc := range cases {
		owner.do(t, "POST", path, map[string]any{"url": tc.url, "event_types": []string{"*"}}).expectError(t, http.StatusBadRequest, tc.code)
	}
	owner.do(t, "POST", path, map[string]any{"url": "http://127.0.0.1:9/x", "event_types": []string{"user.registered"}}).
		expectError(t, http.StatusBadRequest, "webhook.event_types_invalid")
	owner.do(t, "POST", path, map[string]any{"url": "http://127.0.0.1:9/x", "event_types": []string{"*"}, "secret": "short"}).
		expectError(t, http.StatusBadRequest, "webhook.secret_invalid")
	owner.do(t, "POST", path, map[string]any{"event_types": []string{"*"}}).expectError(t, http.StatusBadRequest, "request.field_required")
	owner.do(t, "POST", path, map[string]any{"url": "http://127.0.0.1:9/x"}).expectError(t, http.StatusBadRequest, "request.field_required")
	hook, _ := owner.createWebhook(t, p.ID, ok)
	owner.do(t, "GET", path+"/not-an-id/deliveries", nil).expectError(t, http.StatusNotFound, "webhook.not_found")
	other, _ := owner.createProject(t, map[string]any{"name": "Other Hooks"})
	owner.do(t, "POST", "/v1/projects/"+other.ID+"/webhooks/"+hook.ID+"/enable", nil).expectError(t, http.StatusNotFound, "webhook.not_found")
	owner.do(t, "DELETE", path+"/"+hook.ID, nil).expect(t, http.StatusNoContent)
	owner.do(t, "DELETE", path+"/"+hook.ID, nil).expectError(t, http.StatusNotFound, "webhook.not_found")
}

// A project whose settings turn Slack on gets a message on its Slack incoming webhook (a stand-in
// for hooks.slack.com in this suite: SLACK_WEBHOOK_BASE).
func TestWebhooks_SlackMessageFromProjectSettings(t *testing.T) {
	owner := newAccount(t, "slack")
	path := fmt.Sprintf("/services/T0/B0/%d", time.Now().UnixNano())
	p, _ := owner.createProject(t, map[string]any{"name": "Chatty Project", "settings": map[string]any{
		"notifications": map[string]any{"slack": true, "slack_webhook_url": "https://hooks.slack.com" + path}}})
	if !eventually(20*time.Second, 50*time.Millisecond, func() bool { return len(env.slack.messages(path)) > 0 }) {
		t.Fatalf("no Slack message for project %s", p.ID)
	}
	if msg := env.slack.messages(path)[0]; !strings.Contains(msg, "Chatty Project") {
		t.Errorf("slack message %q", msg)
	}
}

// slackStandIn plays hooks.slack.com for the suite: it keeps each message's text by path.
type slackStandIn struct {
	*httptest.Server
	mu   sync.Mutex
	msgs map[string][]string
}

func startSlack() *slackStandIn {
	s := &slackStandIn{msgs: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Text string `json:"text"`
		}
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m.Text == "" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.msgs[r.URL.Path] = append(s.msgs[r.URL.Path], m.Text)
		s.mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	return s
}

func (s *slackStandIn) messages(path string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.msgs[path]...)
}

// Issue 11, item 11: an admin's endpoint does not outlive their rights: demoted to viewer, their
// endpoint is disabled and the project's next events do not reach it.
func TestWebhooks_DisabledWhenTheirAdminIsDemoted(t *testing.T) {
	owner, admin := newAccount(t, "hook-owner"), newAccount(t, "hook-admin")
	p, _ := owner.createProject(t, map[string]any{"name": "Private Hooks"})
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": admin.ID, "role": "admin"}).expect(t, http.StatusCreated)
	rcv := newReceiver(t)
	hook, _ := admin.createWebhook(t, p.ID, map[string]any{"url": rcv.URL, "event_types": []string{"*"}})
	owner.do(t, "PATCH", "/v1/projects/"+p.ID+"/members/"+admin.ID, map[string]any{"role": "viewer"}).expect(t, http.StatusOK)
	var list struct{ Webhooks []webhookView }
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool {
		owner.do(t, "GET", "/v1/projects/"+p.ID+"/webhooks", nil).expect(t, http.StatusOK).decode(t, &list)
		return len(list.Webhooks) == 1 && !list.Webhooks[0].Enabled
	}) {
		t.Fatalf("the demoted admin's endpoint is still enabled: %+v", list.Webhooks)
	}
	if list.Webhooks[0].ID != hook.ID || !strings.Contains(list.Webhooks[0].DisabledReason, "no longer an admin") {
		t.Fatalf("%+v", list.Webhooks[0])
	}
	// What follows goes to the owner's endpoint (proof that notifications handled it) and not to
	// the demoted admin's.
	rcv2 := newReceiver(t)
	owner.createWebhook(t, p.ID, map[string]any{"url": rcv2.URL, "event_types": []string{"project.updated"}})
	owner.do(t, "PATCH", "/v1/projects/"+p.ID, map[string]any{"name": "Private Hooks 2"}, "If-Match", `"3"`).expect(t, http.StatusOK)
	rcv2.waitFor(t, 1, 20*time.Second)
	if got := rcv.requests(); len(got) != 0 {
		t.Fatalf("the demoted admin's endpoint got %d requests", len(got))
	}
}
