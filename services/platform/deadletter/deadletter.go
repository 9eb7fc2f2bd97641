// Package deadletter keeps what a service's subscriptions gave up on. Each subscription names a
// dead-letter topic <topic>.deadletter.<app>; the app subscribes to its own dead-letter topics, and
// this package stores what arrives there in the app's database, counts it in the metric
// acme_dead_letters_total, and lists it to platform admins (acme.ops.v1).
package deadletter

import (
	"context"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/acme/platform/contracts/consumers"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/postgres"
	"github.com/acme/platform/services/platform/subscriber"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations creates the dead_letters table; services pass it to postgres.Open beside their own.
func Migrations() postgres.Migrations {
	sub, _ := fs.Sub(migrations, "migrations")
	return postgres.Migrations{FS: sub, Table: "goose_platform_dead_letters"}
}

// Topic is the dead-letter topic of app's subscription to topic.
func Topic(topic, app string) string { return consumers.DeadLetterTopic(topic, app) }

// backend keeps letters: PostgreSQL for apps with a database, the Dapr state store for the others.
type backend interface {
	// keep stores m once per topic and message id; it reports whether it stored it now.
	keep(ctx context.Context, m subscriber.Message) (bool, error)
	// list returns letters with ids above after, oldest first.
	list(ctx context.Context, after int64, limit int) ([]Letter, error)
}

// Store keeps and counts an app's dead letters.
type Store struct {
	App     string
	backend backend
	counter metric.Int64Counter
}

// New returns the store of app in its PostgreSQL database (Migrations creates the table); its
// counter is acme_dead_letters_total{app, topic}.
func New(pool *pgxpool.Pool, app string) (*Store, error) { return newStore(app, pgBackend{pool}) }

func newStore(app string, b backend) (*Store, error) {
	c, err := otel.Meter("acme/deadletter").Int64Counter("acme_dead_letters",
		metric.WithDescription("Messages a subscription gave up on and sent to its dead-letter topic"))
	if err != nil {
		return nil, err
	}
	return &Store{App: app, backend: b, counter: c}, nil
}

// Handle stores a dead letter (once per message id) and counts it. It fails only when the store
// does, and then Dapr delivers the message again.
func (s *Store) Handle(ctx context.Context, m subscriber.Message) error {
	stored, err := s.backend.keep(ctx, m)
	if err != nil {
		return fmt.Errorf("store dead letter: %w", err)
	}
	if stored {
		s.counter.Add(ctx, 1, metric.WithAttributes(attribute.String("app", s.App), attribute.String("topic", m.Topic)))
	}
	return nil
}

type pgBackend struct{ pool *pgxpool.Pool }

func (b pgBackend) keep(ctx context.Context, m subscriber.Message) (bool, error) {
	tag, err := b.pool.Exec(ctx, `INSERT INTO dead_letters (topic, message_id, data, metadata) VALUES ($1, $2, $3, $4)
		ON CONFLICT (topic, message_id) DO NOTHING`, m.Topic, m.ID, m.Data, m.Metadata)
	return tag.RowsAffected() == 1, err
}

func (b pgBackend) list(ctx context.Context, after int64, limit int) ([]Letter, error) {
	rows, err := b.pool.Query(ctx, `SELECT id, topic, message_id, data, received_at FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2`,
		after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Letter])
}

// Letter is one stored dead letter.
type Letter struct {
	ID         int64
	Topic      string
	MessageID  string
	Data       []byte
	ReceivedAt time.Time
}

// List returns dead letters, oldest first, for platform admins.
func (s *Store) List(ctx context.Context, c caller.Caller, size int, token string) ([]Letter, string, error) {
	if !c.IsAdmin() {
		return nil, "", errs.PermissionDenied("ops.admin_only", "dead letters are for platform admins")
	}
	if size <= 0 || size > 200 {
		size = 50
	}
	var after int64
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err == nil {
			after, err = strconv.ParseInt(string(b), 10, 64)
		}
		if err != nil {
			return nil, "", errs.Invalid("ops.page_token_invalid", "page_token", "page_token is not one this service issued")
		}
	}
	out, err := s.backend.list(ctx, after, size+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(out[size-1].ID, 10)))
	}
	return out, next, nil
}
