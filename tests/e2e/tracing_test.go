package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/acme/platform/services/platform/events"
)

// A request's W3C trace reaches Kafka: a project created with a client's traceparent is published
// with a traceparent header in the same trace (gateway → its sidecar → projects' sidecar →
// projects → the outbox row → the relay's producer span → the record's headers), naming a span of
// its own: the relay's publish, which consumers' deliveries continue as children.
func TestTracing_ARequestsTraceReachesItsKafkaRecord(t *testing.T) {
	owner := newAccount(t, "trace-owner")
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	traceID := hex.EncodeToString(id)
	r := owner.do(t, "POST", "/v1/projects", map[string]any{"name": "Traced"}, "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01").
		expect(t, http.StatusCreated)
	var out struct{ Project project }
	r.decode(t, &out)

	var header string
	readTopic(t, events.TopicProjects, func(c consumed) bool {
		if c.Event.Subject != out.Project.ID || c.Event.Type != "project.created" {
			return false
		}
		for _, h := range c.Record.Headers {
			if h.Key == "traceparent" {
				header = string(h.Value)
			}
		}
		return true
	})
	parts := strings.Split(header, "-")
	if len(parts) != 4 || parts[1] != traceID {
		t.Fatalf("the record's traceparent is %q, want one in trace %s", header, traceID)
	}
	if parts[2] == "00f067aa0ba902b7" {
		t.Fatalf("the record names the client's span, not the publish's: %q", header)
	}
}
