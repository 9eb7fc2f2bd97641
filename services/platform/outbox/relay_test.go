package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/platform/poll"
	"github.com/acme/platform/services/platform/postgres/pgtest"
)

type recorder struct {
	mu     sync.Mutex
	got    []outbox.Message
	failAt string // event id whose publish fails
}

func (r *recorder) Publish(_ context.Context, m outbox.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.EventID == r.failAt {
		return errors.New("broker unavailable")
	}
	r.got = append(r.got, m)
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.got {
		out = append(out, m.EventID)
	}
	return out
}

func addEvents(t *testing.T, pool *pgxpool.Pool, w *outbox.Writer, subject string, n int) []string {
	t.Helper()
	return addEventsCtx(t, context.Background(), pool, w, subject, n)
}

func addEventsCtx(t *testing.T, ctx context.Context, pool *pgxpool.Pool, w *outbox.Writer, subject string, n int) []string {
	t.Helper()
	var ids []string
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for i := 0; i < n; i++ {
			id := uuid.NewString()
			ids = append(ids, id)
			err := w.Add(ctx, tx, outbox.Event{Topic: events.TopicUsers, Envelope: events.Envelope{
				EventID: id, Type: "user.registered", OccurredAt: time.Now(), Subject: subject, Actor: subject, Region: "us",
				AggregateVersion: int64(i + 1), Payload: events.UserRegistered{UserID: subject, Email: "e@x.io", DisplayName: "E"}}})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func newWriter(t *testing.T) *outbox.Writer {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return outbox.NewWriter(c)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestRelay_PublishesInOrderWithKeyAndMarksSent(t *testing.T) {
	pool := pgtest.New(t, outbox.Migrations())
	w := newWriter(t)
	ids := addEvents(t, pool, w, "user-1", 5)
	rec := &recorder{}
	relay := &outbox.Relay{Pool: pool, Publisher: rec, Log: quiet, BatchSize: 2}
	total := 0
	for {
		n, err := relay.PublishBatch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 5 || fmt.Sprint(rec.ids()) != fmt.Sprint(ids) {
		t.Fatalf("published %v, want %v in order", rec.ids(), ids)
	}
	for _, m := range rec.got {
		if m.PartitionKey != "user-1" || m.Topic != events.TopicUsers || m.ContentType != events.ContentType || m.EventType != "user.registered" {
			t.Fatalf("message %+v", m)
		}
	}
	if n, _ := outbox.Pending(context.Background(), pool); n != 0 {
		t.Fatalf("%d rows still pending", n)
	}
}

func TestOutbox_RolledBackTransactionPublishesNothing(t *testing.T) {
	pool := pgtest.New(t, outbox.Migrations())
	w := newWriter(t)
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		if err := w.Add(context.Background(), tx, outbox.Event{Topic: events.TopicUsers, Envelope: events.Envelope{
			EventID: uuid.NewString(), Type: "user.erased", OccurredAt: time.Now(), Subject: "u", Actor: "u", Region: "us",
			Payload: events.UserErased{UserID: "u"}}}); err != nil {
			return err
		}
		return errors.New("the state change failed")
	})
	if err == nil {
		t.Fatal("want the transaction's error")
	}
	if n, _ := outbox.Pending(context.Background(), pool); n != 0 {
		t.Fatalf("%d rows pending after a rollback", n)
	}
}

func TestOutbox_RefusesAnEventItsSchemaCannotHold(t *testing.T) {
	pool := pgtest.New(t, outbox.Migrations())
	w := newWriter(t)
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		return w.Add(context.Background(), tx, outbox.Event{Topic: events.TopicUsers, Envelope: events.Envelope{
			EventID: uuid.NewString(), Type: "project.created", OccurredAt: time.Now(), Subject: "p", Actor: "u", Region: "us",
			Payload: events.ProjectDeleted{ProjectID: "p"}}})
	})
	if err == nil {
		t.Fatal("a projects payload was accepted on the users topic")
	}
}

func TestRelay_StopsAtAFailureAndResumesInOrder(t *testing.T) {
	pool := pgtest.New(t, outbox.Migrations())
	w := newWriter(t)
	ids := addEvents(t, pool, w, "user-2", 4)
	rec := &recorder{failAt: ids[2]}
	relay := &outbox.Relay{Pool: pool, Publisher: rec, Log: quiet}
	n, err := relay.PublishBatch(context.Background())
	if err == nil || n != 2 {
		t.Fatalf("published %d with err %v; want 2 and an error", n, err)
	}
	if pending, _ := outbox.Pending(context.Background(), pool); pending != 2 {
		t.Fatalf("%d pending, want 2", pending)
	}
	var attempts int
	var lastErr string
	if err := pool.QueryRow(context.Background(), `SELECT attempts, last_error FROM outbox WHERE event_id = $1`, ids[2]).Scan(&attempts, &lastErr); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || lastErr == "" {
		t.Fatalf("attempts %d, last_error %q", attempts, lastErr)
	}
	// A relay restarted later (a new process) picks up where the failed one stopped.
	rec.failAt = ""
	relay2 := &outbox.Relay{Pool: pool, Publisher: rec, Log: quiet}
	if n, err := relay2.PublishBatch(context.Background()); err != nil || n != 2 {
		t.Fatalf("resume published %d, %v", n, err)
	}
	if fmt.Sprint(rec.ids()) != fmt.Sprint(ids) {
		t.Fatalf("order %v, want %v", rec.ids(), ids)
	}
}

func TestRelay_OneReplicaPublishesAtATime(t *testing.T) {
	pool := pgtest.New(t, outbox.Migrations())
	w := newWriter(t)
	addEvents(t, pool, w, "user-3", 3)
	// Replica A holds the relay lock inside an open transaction...
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var got bool
	if err := tx.QueryRow(context.Background(), `SELECT pg_try_advisory_xact_lock($1)`, 0x61636d65).Scan(&got); err != nil || !got {
		t.Fatalf("lock: %v %v", got, err)
	}
	// ...so replica B publishes nothing rather than overtaking it.
	rec := &recorder{}
	n, err := (&outbox.Relay{Pool: pool, Publisher: rec, Log: quiet}).PublishBatch(context.Background())
	if err != nil || n != 0 || len(rec.ids()) != 0 {
		t.Fatalf("second replica published %d (%v)", n, err)
	}
}

func TestRelay_RunWakesOnCommit(t *testing.T) {
	pool := pgtest.New(t, outbox.Migrations())
	w := newWriter(t)
	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// A long poll interval: only the notification can explain a fast publish.
	go func() {
		(&outbox.Relay{Pool: pool, Publisher: rec, Log: quiet, PollInterval: time.Minute}).Run(ctx)
		close(done)
	}()
	// Wait until the relay is LISTENing (its connection's last statement, in this test's database):
	// a notification sent before that would be lost and the test would wait for the poll instead.
	listening := func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN acme_outbox'`).Scan(&n)
		return err == nil && n > 0
	}
	if !poll.Until(10*time.Second, 10*time.Millisecond, listening) {
		t.Fatal("the relay never started listening")
	}
	ids := addEvents(t, pool, w, "user-4", 1)
	poll.Until(10*time.Second, 10*time.Millisecond, func() bool { return len(rec.ids()) > 0 })
	cancel()
	<-done
	if fmt.Sprint(rec.ids()) != fmt.Sprint(ids) {
		t.Fatalf("published %v, want %v", rec.ids(), ids)
	}
}

// The relay's metrics: published and failed publishes by topic, the publish lag, and the backlog
// that Run reports at each collection.
func TestRelay_Metrics(t *testing.T) {
	pool := pgtest.New(t, outbox.Migrations())
	w := newWriter(t)
	ids := addEvents(t, pool, w, "user-5", 3)
	rec := &recorder{failAt: ids[2]}
	reader := sdkmetric.NewManualReader()
	relay := &outbox.Relay{Pool: pool, Publisher: rec, Log: quiet, PollInterval: time.Minute,
		Meter: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		relay.Run(ctx)
		close(done)
	}()
	defer func() { cancel(); <-done }()

	// Collected until Run has published the first two and the third is pending.
	var got map[string]float64
	poll.Until(10*time.Second, 10*time.Millisecond, func() bool {
		got = collect(t, reader)
		return got["acme_outbox_published"] == 2 && got["acme_outbox_pending"] == 1
	})
	want := map[string]float64{"acme_outbox_published": 2, "acme_outbox_publish_lag.count": 2, "acme_outbox_pending": 1}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v (all: %v)", name, got[name], v, got)
		}
	}
	if got["acme_outbox_publish_failures"] < 1 {
		t.Errorf("no failed publish counted: %v", got)
	}
	if got["acme_outbox_oldest_pending"] <= 0 {
		t.Errorf("oldest pending age %v, want > 0", got["acme_outbox_oldest_pending"])
	}
	if got["topic"] != 1 {
		t.Errorf("a data point without its topic: %v", got)
	}
}

// collect sums each metric's data points (histograms: their counts under name.count); "topic" is 1
// when every counter and histogram point carries the users topic.
func collect(t *testing.T, reader sdkmetric.Reader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{"topic": 1}
	hasTopic := func(s attribute.Set) {
		if v, ok := s.Value("topic"); !ok || v.AsString() != events.TopicUsers {
			out["topic"] = 0
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] += float64(p.Value)
					hasTopic(p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name+".count"] += float64(p.Count)
					hasTopic(p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] += float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] += p.Value
				}
			}
		}
	}
	return out
}

// The trace of the request that wrote an event continues through the relay: the row keeps the
// writer's trace context, the relay publishes under a producer span that is its child, and the
// message carries that span's context (the Kafka headers a consumer continues from). A row written
// outside any trace is published under a trace of its own.
func TestRelay_PublishContinuesTheWritersTrace(t *testing.T) {
	pool := pgtest.New(t, outbox.Migrations())
	w := newWriter(t)
	rec := &recorder{}
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	ctx, request := tp.Tracer("test").Start(context.Background(), "POST /v1/projects")
	traced := addEventsCtx(t, ctx, pool, w, "user-6", 1)
	request.End()
	untraced := addEvents(t, pool, w, "user-7", 1)

	relay := &outbox.Relay{Pool: pool, Publisher: rec, Log: quiet, Tracer: tp}
	if n, err := relay.PublishBatch(context.Background()); err != nil || n != 2 {
		t.Fatalf("published %d, %v", n, err)
	}
	byID := map[string]outbox.Message{}
	for _, m := range rec.got {
		byID[m.EventID] = m
	}
	var publish sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.Name() == "publish "+events.TopicUsers && s.Parent().SpanID() == request.SpanContext().SpanID() {
			publish = s
		}
	}
	if publish == nil {
		t.Fatalf("no publish span under the request's span; spans: %d", len(spans.Ended()))
	}
	if publish.SpanKind().String() != "producer" || publish.SpanContext().TraceID() != request.SpanContext().TraceID() {
		t.Errorf("publish span %s in trace %s, want a producer in %s", publish.SpanKind(), publish.SpanContext().TraceID(), request.SpanContext().TraceID())
	}
	want := fmt.Sprintf("00-%s-%s-01", request.SpanContext().TraceID(), publish.SpanContext().SpanID())
	if got := byID[traced[0]].TraceParent; got != want {
		t.Errorf("the traced event's traceparent is %q, want the publish span's %q", got, want)
	}
	other := byID[untraced[0]].TraceParent
	if other == "" || strings.Contains(other, request.SpanContext().TraceID().String()) {
		t.Errorf("the untraced event's traceparent %q: want a trace of its own", other)
	}
}
