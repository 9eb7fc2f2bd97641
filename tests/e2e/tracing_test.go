package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acme/platform/deploy/local/observability"
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

// One POST /v1/projects is one trace in the trace store: the gateway's server span under the
// client's, both sidecars of the call, projects' gRPC handler and its SQL (the transaction writing
// the outbox row), the relay's publishes, and the consumers that handle the events (search and
// notifications the project event, audit the audit record), each a child of the publish it
// handles, beside its sidecar's delivery span. Every span's parent is in the trace: one tree, not
// pieces. And Prometheus, scraping the gateway, counts the request in its RED metrics.
func TestTracing_OneRequestIsOneTraceAcrossServicesAndKafka(t *testing.T) {
	owner := newAccount(t, "one-trace")
	const red = `sum(http_server_request_duration_seconds_count{app="gateway",component="app",http_route="/v1/projects",http_request_method="POST",http_response_status_code="201"})`
	before := promValue(t, red)

	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	traceID, clientSpan := hex.EncodeToString(id), "00f067aa0ba902b7"
	owner.do(t, "POST", "/v1/projects", map[string]any{"name": "One trace"}, "traceparent", "00-"+traceID+"-"+clientSpan+"-01").
		expect(t, http.StatusCreated)

	type want struct {
		what string
		ok   func(s observability.Span, byID map[string]observability.Span) bool
	}
	type span = observability.Span
	parent := func(s span, byID map[string]span) span { return byID[s.ParentSpanID] }
	sidecar := func(s span) bool { return s.Scope == "dapr-diagnostics" }
	// What Dapr 1.16 does, as seen here: a sidecar records its span of a call or a delivery, but
	// passes on the traceparent it was given. So the callee app's span is a child of the caller
	// app's span, and each sidecar's span hangs beside it, a child of the same caller span (or, for
	// the callee's sidecar, of the caller's sidecar's span).
	handler := func(s span) bool {
		return s.Service == "projects" && !sidecar(s) && s.Kind == "server" && strings.HasSuffix(s.Name, "/CreateProject")
	}
	inHandler := func(s span, byID map[string]span) bool { return handler(parent(s, byID)) }
	publish := func(s span, topic string) bool {
		return s.Service == "projects" && s.Kind == "producer" && s.Name == "publish "+topic
	}
	// consumer: the app's process span under its gRPC delivery handler under the publish of topic,
	// and the app's sidecar's delivery span under the same publish.
	consumer := func(app, topic string) []want {
		return []want{{app + " handles " + topic + ", under the publish", func(s span, byID map[string]span) bool {
			if s.Service != app || s.Name != "process "+topic || s.Kind != "consumer" {
				return false
			}
			delivery := parent(s, byID)
			return delivery.Service == app && delivery.Kind == "server" && publish(parent(delivery, byID), topic)
		}}, {app + "'s sidecar delivers " + topic, func(s span, byID map[string]span) bool {
			return s.Service == app && sidecar(s) && s.Name == "pubsub/"+topic && publish(parent(s, byID), topic)
		}}}
	}
	wants := []want{
		{"the gateway's server span, a child of the client's", func(s span, _ map[string]span) bool {
			return s.Service == "gateway" && s.Kind == "server" && s.Name == "POST /v1/projects" && s.ParentSpanID == clientSpan
		}},
		{"the gateway's sidecar calling projects", func(s span, byID map[string]span) bool {
			return s.Service == "gateway" && sidecar(s) && s.Kind == "client" && strings.HasSuffix(s.Name, "/CreateProject") &&
				parent(s, byID).Service == "gateway"
		}},
		{"projects' sidecar, called by the gateway's", func(s span, byID map[string]span) bool {
			p := parent(s, byID)
			return s.Service == "projects" && sidecar(s) && s.Kind == "server" && strings.HasSuffix(s.Name, "/CreateProject") &&
				p.Service == "gateway" && sidecar(p)
		}},
		{"projects' gRPC handler, called by the gateway", func(s span, byID map[string]span) bool {
			return handler(s) && parent(s, byID).Service == "gateway"
		}},
		{"the outbox row's INSERT in the handler's transaction", func(s span, byID map[string]span) bool {
			return strings.Contains(s.Scope, "otelpgx") && strings.HasPrefix(s.Attributes["db.query.text"], "INSERT INTO outbox") && inHandler(s, byID)
		}},
		{"the transaction's COMMIT", func(s span, byID map[string]span) bool {
			return strings.Contains(s.Scope, "otelpgx") && strings.EqualFold(s.Attributes["db.query.text"], "commit") && inHandler(s, byID)
		}},
		{"the relay's publish of the project event, under the handler", func(s span, byID map[string]span) bool {
			return publish(s, events.TopicProjects) && inHandler(s, byID)
		}},
		{"the relay's publish of the audit record, under the handler", func(s span, byID map[string]span) bool {
			return publish(s, events.TopicAudit) && inHandler(s, byID)
		}},
	}
	wants = append(wants, consumer("search", events.TopicProjects)...)
	wants = append(wants, consumer("notifications", events.TopicProjects)...)
	wants = append(wants, consumer("audit", events.TopicAudit)...)

	// Spans reach the store in batches, each process' on its own schedule: a parent may arrive after
	// its children. So the test waits until the trace has every span it wants and is one tree (every
	// span's parent in it, the client's span aside), and fails if it is not within the time.
	var spans []observability.Span
	var missing, orphans []string
	ok := eventually(30*time.Second, 200*time.Millisecond, func() bool {
		var err error
		spans, err = env.traces.Trace(context.Background(), traceID)
		if err != nil && !errors.Is(err, observability.ErrNoTrace) {
			t.Fatal(err)
		}
		byID := map[string]observability.Span{clientSpan: {}}
		for _, s := range spans {
			byID[s.SpanID] = s
		}
		missing, orphans = nil, nil
		for _, w := range wants {
			found := false
			for _, s := range spans {
				found = found || w.ok(s, byID)
			}
			if !found {
				missing = append(missing, w.what)
			}
		}
		for _, s := range spans {
			if _, ok := byID[s.ParentSpanID]; !ok {
				orphans = append(orphans, fmt.Sprintf("%s's span %q names a parent %q not in the trace", s.Service, s.Name, s.ParentSpanID))
			}
		}
		return len(missing) == 0 && len(orphans) == 0
	})
	if !ok {
		t.Fatalf("trace %s lacks: %s\nand is not one tree: %s\nit has:\n%s", traceID, strings.Join(missing, "; "), strings.Join(orphans, "; "), describe(spans))
	}
	for _, s := range spans {
		if s.TraceID != traceID {
			t.Errorf("span %s of %s is in trace %s", s.Name, s.Service, s.TraceID)
		}
	}

	// Prometheus scrapes every second: the request shows in the gateway's request count by route.
	var after float64
	if !eventually(20*time.Second, 250*time.Millisecond, func() bool { after = promValue(t, red); return after > before }) {
		t.Fatalf("Prometheus counts %v created projects at the gateway before the request and %v after", before, after)
	}
}

// promValue is the single value of an instant query, 0 when it has no series yet.
func promValue(t *testing.T, q string) float64 {
	t.Helper()
	samples, err := env.prom.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) == 0 {
		return 0
	}
	v, err := strconv.ParseFloat(samples[0].Value, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// describe lists spans one per line: service, scope, kind, name, id and parent.
func describe(spans []observability.Span) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "  %-14s %-40s %-9s %-50q %s <- %s\n", s.Service, s.Scope, s.Kind, s.Name, s.SpanID, s.ParentSpanID)
	}
	return b.String()
}
