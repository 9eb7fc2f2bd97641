package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/acme/platform/services/platform/events"
)

// A consumer in another language finds every event's schema by its fingerprint, and a producer in
// another language is heard by a Go service: tests/polyglot (Python, fastavro and kafka-python, with
// only the schema files of contracts/avro) reads all four topics straight from Kafka and writes an
// acme.audit.log event, which audit receives through its sidecar like any other.
func TestPolyglot_PythonReadsEveryTopicAndAuditHearsPython(t *testing.T) {
	python := os.Getenv("POLYGLOT_PYTHON")
	if python == "" {
		t.Fatal("POLYGLOT_PYTHON is not set; run the suite with make test (deploy/local/venv.sh tests/polyglot/requirements.txt)")
	}
	// Events on every topic: an account and a project (users, projects, audit log) and a billing event
	// as billing will publish it.
	owner := newAccount(t, "polyglot")
	owner.createProject(t, map[string]any{"name": "Polyglot " + uuid.NewString()[:8]})
	codec, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	billing := events.Envelope{EventID: uuid.NewString(), Type: "usage.recorded", OccurredAt: time.Now().UTC(),
		Subject: owner.ID, Actor: "system:billing", Region: "eu", AggregateVersion: 1,
		Payload: events.UsageRecorded{AccountID: owner.ID, Metric: "projects", Quantity: 1}}
	b, err := codec.Encode(events.TopicBilling, billing)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, events.TopicBilling, b)

	// Everything the two outboxes hold must have been published before Python reads.
	published := map[string][]string{}
	for _, dbURL := range []string{env.usersDB, env.projectsDB} {
		for topic, ids := range publishedOutbox(t, dbURL) {
			published[topic] = append(published[topic], ids...)
		}
	}
	published[events.TopicBilling] = append(published[events.TopicBilling], billing.EventID)

	root, _ := filepath.Abs("../..")
	out := filepath.Join(t.TempDir(), "polyglot.json")
	cmd := exec.Command(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/polyglot")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KAFKA_BOOTSTRAP="+env.brokerAddr, "CONTRACTS="+filepath.Join(root, "contracts", "avro"),
		"POLYGLOT_OUT="+out)
	output, err := cmd.CombinedOutput()
	t.Logf("python:\n%s", output)
	if err != nil {
		t.Fatalf("the Python consumer and producer failed: %v", err)
	}
	var result struct {
		Decoded  map[string][]string `json:"decoded"`
		Foreign  map[string]int      `json:"foreign"`
		Produced struct {
			EventID string `json:"event_id"`
			Subject string `json:"subject"`
		} `json:"produced"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &result); err != nil {
		t.Fatal(err)
	}

	// Python decoded every event the Go services published, on every topic.
	for _, topic := range events.Topics {
		seen := map[string]bool{}
		for _, id := range result.Decoded[topic] {
			seen[id] = true
		}
		missing := 0
		for _, id := range published[topic] {
			if !seen[id] {
				missing++
			}
		}
		if missing > 0 || len(published[topic]) == 0 {
			t.Errorf("%s: Python decoded %d events; %d of the %d the Go services published are not among them",
				topic, len(result.Decoded[topic]), missing, len(published[topic]))
		}
	}
	t.Logf("decoded by Python: %d users, %d projects, %d billing, %d audit-log events; records that are not Avro datums (the suite's poison): %v",
		len(result.Decoded[events.TopicUsers]), len(result.Decoded[events.TopicProjects]),
		len(result.Decoded[events.TopicBilling]), len(result.Decoded[events.TopicAudit]), result.Foreign)

	// audit, through its sidecar, stored the event Python wrote.
	recs := auditRecords(t, url.Values{"subject": {result.Produced.Subject}}, func(rs []auditRecord) bool { return len(rs) == 1 })
	if r := recs[0]; r.EventID != result.Produced.EventID || r.Type != "polyglot.python_check" || r.Source != "python" ||
		r.Region != "eu" || r.Topic != events.TopicAudit {
		t.Fatalf("audit stored %+v for the Python event %s", r, result.Produced.EventID)
	}
}

// publishedOutbox waits until an outbox has nothing left to publish and returns the event ids it
// published, by topic.
func publishedOutbox(t *testing.T, dbURL string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	pending := -1
	if !eventually(20*time.Second, 50*time.Millisecond, func() bool {
		err := db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&pending)
		return err == nil && pending == 0
	}) {
		t.Fatalf("the outbox still holds %d unpublished events", pending)
	}
	rows, err := db.Query(ctx, `SELECT topic, event_id::text FROM outbox WHERE published_at IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for rows.Next() {
		var topic, id string
		if err := rows.Scan(&topic, &id); err != nil {
			t.Fatal(err)
		}
		out[topic] = append(out[topic], id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
