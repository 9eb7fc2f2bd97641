package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/acme/platform/services/platform/events"
)

// deadLetterCount reads acme_dead_letters_total for topic from an app's own /metrics.
func deadLetterCount(t *testing.T, app, topic string) float64 {
	t.Helper()
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", env.topo.App(app).AppMetricsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "acme_dead_letters_total{") && strings.Contains(line, `topic="`+topic+`"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 0
}

// waitDeadLetter waits up to 10 s until app lists data among its dead letters from dlq.
func waitDeadLetter(t *testing.T, app, dlq string, data []byte) {
	t.Helper()
	want := base64.StdEncoding.EncodeToString(data)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var page struct {
			DeadLetters []struct {
				Topic      string `json:"topic"`
				DataBase64 string `json:"data_base64"`
			} `json:"dead_letters"`
		}
		request(t, "GET", "/v1/ops/dead-letters?page_size=200&app="+app, nil, asAdmin(t)).expect(t, http.StatusOK).decode(t, &page)
		for _, l := range page.DeadLetters {
			if l.DataBase64 == want && l.Topic == dlq {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poison message is not among %s's dead letters: %+v", app, page.DeadLetters)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// produce writes one record to topic straight to Kafka.
func produce(t *testing.T, topic string, value []byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.brokerAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte("poison"), Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// Data no retry can read goes to the subscription's dead-letter topic, where the consuming app keeps
// it, counts it and lists it to admins; the events after it still flow.
func TestDeadLetters_PoisonIsKeptCountedAndListed(t *testing.T) {
	dlq := events.TopicAudit + ".deadletter.audit"
	before := deadLetterCount(t, "audit", dlq)
	poison := []byte(fmt.Sprintf("not an avro datum %d", time.Now().UnixNano()))
	produce(t, events.TopicAudit, poison)
	// The next real event still reaches the log.
	u := registerUser(t, "after-poison")
	auditRecords(t, url.Values{"subject": {u.ID}}, func(rs []auditRecord) bool { return len(rs) >= 2 })
	waitDeadLetter(t, "audit", dlq, poison)
	if after := deadLetterCount(t, "audit", dlq); after != before+1 {
		t.Fatalf("acme_dead_letters_total went from %v to %v, want one more", before, after)
	}
	a := newAccount(t, "dlq-nonadmin")
	a.do(t, "GET", "/v1/ops/dead-letters?app=audit", nil).expectError(t, http.StatusForbidden, "ops.admin_only")
	a.do(t, "GET", "/v1/ops/dead-letters?app=nothing", nil).expectError(t, http.StatusBadRequest, "ops.app_invalid")
}

// A consumer that was down resumes from its committed offset: what was published meanwhile arrives.
func TestConsumers_CatchUpAfterBeingDown(t *testing.T) {
	if err := env.topo.StopApp("audit"); err != nil {
		t.Fatal(err)
	}
	u := registerUser(t, "catch-up") // published while audit and its sidecar are stopped
	start := time.Now()
	if err := env.topo.StartAgain(context.Background(), "audit"); err != nil {
		t.Fatal(err)
	}
	auditRecordsWithin(t, 30*time.Second, url.Values{"subject": {u.ID}}, func(rs []auditRecord) bool { return len(rs) >= 2 })
	t.Logf("audit restarted and caught up in %.1fs", time.Since(start).Seconds())
}

// notifications and search have no SQL database: their dead letters live in the Dapr state store,
// listed the same. One poison record reaches both, each through its own subscription.
func TestDeadLetters_KeptByAppsWithoutADatabase(t *testing.T) {
	poison := []byte(fmt.Sprintf("not a project event %d", time.Now().UnixNano()))
	produce(t, events.TopicProjects, poison)
	for _, app := range []string{"notifications", "search"} {
		dlq := events.TopicProjects + ".deadletter." + app
		waitDeadLetter(t, app, dlq, poison)
		if n := deadLetterCount(t, app, dlq); n < 1 {
			t.Fatalf("%s: acme_dead_letters_total for %s is %v", app, dlq, n)
		}
	}
}

// Issue 11, item 12 (pub/sub scopes): an app may publish only what consumers.yaml says it publishes.
// The suite's sink and search, through their own sidecars, cannot publish a user.erased; users can.
func TestPubsub_OnlyDeclaredPublishersPublish(t *testing.T) {
	publish := func(app, topic string) int {
		url := fmt.Sprintf("http://127.0.0.1:%d/v1.0/publish/pubsub/%s", env.topo.App(app).HTTPPort, topic)
		req, _ := http.NewRequest("POST", url, strings.NewReader("not a real event"))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("dapr-api-token", env.topo.App(app).APIToken) // as the app itself would
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, app := range []string{"eventsink", "search"} {
		if code := publish(app, events.TopicUsers); code != http.StatusForbidden {
			t.Errorf("%s published to %s: %d", app, events.TopicUsers, code)
		}
	}
	if code := publish("search", events.TopicAudit); code != http.StatusForbidden {
		t.Errorf("search published to the audit log: %d", code)
	}
}
