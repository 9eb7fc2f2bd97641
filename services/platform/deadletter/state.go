package deadletter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/daprstate"
	"github.com/acme/platform/services/platform/subscriber"
)

// NewState returns the store of an app without a database: letters live in the Dapr state store,
// numbered by a counter kept under ETag concurrency.
func NewState(client dapr.Client, store, app string) (*Store, error) {
	return newStore(app, stateBackend{client: client, store: store})
}

type stateBackend struct {
	client dapr.Client
	store  string
}

const seqKey = "deadletter-seq"

func letterKey(id int64) string { return "deadletter:" + strconv.FormatInt(id, 10) }

func (b stateBackend) keep(ctx context.Context, m subscriber.Message) (bool, error) {
	// One claim per topic and message id: a redelivery stores nothing.
	err := daprstate.New[bool](b.client, b.store).Create(ctx, "deadletter-id:"+m.Topic+":"+m.ID, true, 0)
	if errors.Is(err, daprstate.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	id, err := daprstate.New[int64](b.client, b.store).Update(ctx, seqKey, 0, func(n *int64, _ bool) error { *n++; return nil })
	if err != nil {
		return false, fmt.Errorf("dead-letter counter: %w", err)
	}
	l := Letter{ID: id, Topic: m.Topic, MessageID: m.ID, Data: m.Data, ReceivedAt: time.Now().UTC()}
	return true, daprstate.New[Letter](b.client, b.store).Create(ctx, letterKey(id), l, 0)
}

func (b stateBackend) list(ctx context.Context, after int64, limit int) ([]Letter, error) {
	last, _, found, err := daprstate.New[int64](b.client, b.store).Get(ctx, seqKey)
	if err != nil || !found {
		return nil, err
	}
	var keys []string
	for id := after + 1; id <= last && len(keys) < limit; id++ {
		keys = append(keys, letterKey(id))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	letters, err := daprstate.New[Letter](b.client, b.store).GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	var out []Letter
	for _, k := range keys { // in number order; a number taken by a crashed keep has no letter
		if l, ok := letters[k]; ok {
			out = append(out, l)
		}
	}
	return out, nil
}
