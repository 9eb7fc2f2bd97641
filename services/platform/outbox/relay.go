package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Publisher sends one outbox row to its topic. The Dapr adapter is the production one.
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// Message is an outbox row on its way out.
type Message struct {
	Seq          int64
	EventID      string
	Topic        string
	PartitionKey string
	EventType    string
	ContentType  string
	Payload      []byte
	// CreatedAt is when the row was written, in the writer's transaction.
	CreatedAt time.Time
	// TraceParent and TraceState are the W3C trace context the publish carries (Kafka headers):
	// the relay's publish span, a child of the writing request's span ("" for rows without one).
	TraceParent, TraceState string
}

// Relay publishes pending outbox rows in seq order. Several replicas may run one each: a transaction
// advisory lock lets one of them publish at a time, which keeps each aggregate's events in order.
type Relay struct {
	Pool      *pgxpool.Pool
	Publisher Publisher
	Log       *slog.Logger
	// BatchSize rows are published per transaction (default 100).
	BatchSize int
	// PollInterval is the fallback when no notification arrives (default 1s).
	PollInterval time.Duration
	// Retention keeps published rows this long for inspection (default 24h).
	Retention time.Duration
	// Tracer makes a producer span per publish, a child of the span that wrote the row (default: the
	// global tracer provider).
	Tracer trace.TracerProvider
	// Meter makes the relay's metrics (default: the global meter provider):
	//   - acme_outbox_published_total{topic}: rows published;
	//   - acme_outbox_publish_failures_total{topic}: publishes that failed (the row stays pending);
	//   - acme_outbox_publish_lag_seconds{topic}: from the writer's commit to the broker's ack;
	//   - acme_outbox_pending and acme_outbox_oldest_pending_seconds: the backlog, read at each
	//     scrape while Run runs.
	Meter metric.MeterProvider

	once    sync.Once
	metrics relayMetrics
}

type relayMetrics struct {
	published, failures metric.Int64Counter
	lag                 metric.Float64Histogram
}

// relayLockKey is the advisory lock that elects the publishing replica.
const relayLockKey = 0x61636d65 // "acme"

func (r *Relay) defaults() {
	if r.BatchSize <= 0 {
		r.BatchSize = 100
	}
	if r.PollInterval <= 0 {
		r.PollInterval = time.Second
	}
	if r.Retention <= 0 {
		r.Retention = 24 * time.Hour
	}
	r.once.Do(func() {
		if r.Meter == nil {
			r.Meter = otel.GetMeterProvider()
		}
		if r.Tracer == nil {
			r.Tracer = otel.GetTracerProvider()
		}
		m := r.Meter.Meter("acme/outbox")
		r.metrics.published, _ = m.Int64Counter("acme_outbox_published", metric.WithDescription("Outbox rows published."))
		r.metrics.failures, _ = m.Int64Counter("acme_outbox_publish_failures",
			metric.WithDescription("Outbox publishes that failed; the row stays pending and is retried."))
		r.metrics.lag, _ = m.Float64Histogram("acme_outbox_publish_lag", metric.WithUnit("s"),
			metric.WithDescription("From the outbox row's commit to the broker's acknowledgement."),
			metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
	})
}

// observeBacklog reports the pending rows and the oldest one's age at each collection, until the
// returned function unregisters it.
func (r *Relay) observeBacklog() func() {
	m := r.Meter.Meter("acme/outbox")
	pending, err1 := m.Int64ObservableGauge("acme_outbox_pending", metric.WithDescription("Outbox rows not yet published."))
	oldest, err2 := m.Float64ObservableGauge("acme_outbox_oldest_pending", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest outbox row not yet published (0 when none is)."))
	if err := errors.Join(err1, err2); err != nil {
		r.Log.Warn("outbox relay: backlog metrics unavailable", "error", err)
		return func() {}
	}
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		var n int64
		var age float64
		err := r.Pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
			FROM outbox WHERE published_at IS NULL`).Scan(&n, &age)
		if err != nil {
			return err
		}
		o.ObserveInt64(pending, n)
		o.ObserveFloat64(oldest, age)
		return nil
	}, pending, oldest)
	if err != nil {
		r.Log.Warn("outbox relay: backlog metrics unavailable", "error", err)
		return func() {}
	}
	return func() { _ = reg.Unregister() }
}

// Run publishes until ctx ends. Rows left pending by a crash or a failed publish are picked up again:
// delivery is at least once.
func (r *Relay) Run(ctx context.Context) error {
	r.defaults()
	defer r.observeBacklog()()
	var listener *pgxpool.Conn
	defer func() {
		if listener != nil {
			listener.Release()
		}
	}()
	lastCleanup := time.Time{}
	backoff := r.PollInterval
	for ctx.Err() == nil {
		failed := false
		for ctx.Err() == nil {
			n, err := r.PublishBatch(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.Log.Warn("outbox relay: publish failed, will retry", "error", err)
				}
				failed = true
				break
			}
			if n < r.BatchSize {
				break
			}
		}
		if time.Since(lastCleanup) > time.Hour {
			if _, err := r.Pool.Exec(ctx, `DELETE FROM outbox WHERE published_at < now() - $1::interval`, r.Retention.String()); err == nil {
				lastCleanup = time.Now()
			}
		}
		wait := r.PollInterval
		if failed {
			wait, backoff = backoff, min(backoff*2, 30*time.Second)
		} else {
			backoff = r.PollInterval
		}
		listener = r.waitForWork(ctx, listener, wait)
	}
	return nil
}

// waitForWork returns after a notification from a committing writer or after wait. It keeps one
// LISTENing connection and replaces it when it breaks.
func (r *Relay) waitForWork(ctx context.Context, conn *pgxpool.Conn, wait time.Duration) *pgxpool.Conn {
	if conn == nil {
		c, err := r.Pool.Acquire(ctx)
		if err == nil {
			if _, err = c.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
				c.Release()
			} else {
				conn = c
			}
		}
		if conn == nil {
			sleep(ctx, wait)
			return nil
		}
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	_, err := conn.Conn().WaitForNotification(wctx)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		conn.Release()
		return nil
	}
	return conn
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// PublishBatch publishes up to BatchSize pending rows and returns how many it published. It stops at
// the first failure so that later events never overtake an earlier one.
func (r *Relay) PublishBatch(ctx context.Context) (int, error) {
	r.defaults()
	tx, err := r.Pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var leader bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, relayLockKey).Scan(&leader); err != nil {
		return 0, err
	}
	if !leader {
		return 0, nil
	}
	rows, err := tx.Query(ctx, `SELECT seq, event_id::text, topic, partition_key, event_type, content_type, payload, created_at,
			coalesce(trace_parent, ''), coalesce(trace_state, '')
		FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1`, r.BatchSize)
	if err != nil {
		return 0, err
	}
	msgs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Message])
	if err != nil {
		return 0, err
	}
	var done []int64
	type ack struct {
		topic metric.MeasurementOption
		lag   float64
	}
	var acked []ack
	var pubErr error
	for _, m := range msgs {
		topic := metric.WithAttributeSet(attribute.NewSet(attribute.String("topic", m.Topic)))
		pctx, span := r.publishSpan(ctx, &m)
		pubErr = r.Publisher.Publish(pctx, m)
		if pubErr != nil {
			span.RecordError(pubErr)
			span.SetStatus(codes.Error, "publish failed")
		}
		span.End()
		if pubErr != nil {
			r.metrics.failures.Add(ctx, 1, topic)
			_, _ = tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1`, m.Seq, pubErr.Error())
			pubErr = fmt.Errorf("event %s (%s): %w", m.EventID, m.EventType, pubErr)
			break
		}
		done = append(done, m.Seq)
		acked = append(acked, ack{topic, time.Since(m.CreatedAt).Seconds()})
	}
	if len(done) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE seq = ANY($1)`, done); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	// Counted once the rows are marked: a row whose mark is lost is published and counted again.
	for _, a := range acked {
		r.metrics.published.Add(ctx, 1, a.topic)
		r.metrics.lag.Record(ctx, a.lag, a.topic)
	}
	return len(done), pubErr
}

// publishSpan starts the producer span of m's publish, a child of the span that wrote the row, and
// sets m's trace context to it, so the Kafka record's headers name the publish as the consumers'
// parent.
func (r *Relay) publishSpan(ctx context.Context, m *Message) (context.Context, trace.Span) {
	tc := propagation.TraceContext{}
	parent := tc.Extract(ctx, propagation.MapCarrier{"traceparent": m.TraceParent, "tracestate": m.TraceState})
	sctx, span := r.Tracer.Tracer("acme/outbox").Start(parent, "publish "+m.Topic, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attribute.String("messaging.system", "kafka"), attribute.String("messaging.destination.name", m.Topic),
		attribute.String("messaging.message.id", m.EventID), attribute.String("messaging.operation.type", "send")))
	carrier := propagation.MapCarrier{}
	tc.Inject(sctx, carrier)
	m.TraceParent, m.TraceState = carrier.Get("traceparent"), carrier.Get("tracestate")
	return sctx, span
}

// Pending counts rows not yet published; for readiness and tests.
func Pending(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	var n int
	err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n)
	return n, err
}
