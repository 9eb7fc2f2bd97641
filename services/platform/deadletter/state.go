package deadletter

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

func mismatch(err error) bool {
	c := status.Code(err)
	return c == codes.Aborted || c == codes.FailedPrecondition
}

func (b stateBackend) keep(ctx context.Context, m subscriber.Message) (bool, error) {
	first := dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)
	meta := map[string]string{"contentType": "application/json"}
	// One claim per topic and message id: a redelivery stores nothing.
	if err := b.client.SaveState(ctx, b.store, "deadletter-id:"+m.Topic+":"+m.ID, []byte(`true`), meta, first); err != nil {
		if mismatch(err) {
			return false, nil
		}
		return false, err
	}
	id, err := b.next(ctx)
	if err != nil {
		return false, err
	}
	l := Letter{ID: id, Topic: m.Topic, MessageID: m.ID, Data: m.Data, ReceivedAt: time.Now().UTC()}
	v, _ := json.Marshal(l)
	return true, b.client.SaveState(ctx, b.store, letterKey(id), v, meta)
}

// next takes the next letter number.
func (b stateBackend) next(ctx context.Context) (int64, error) {
	for try := 0; try < 10; try++ {
		item, err := b.client.GetState(ctx, b.store, seqKey, nil)
		if err != nil {
			return 0, err
		}
		var n int64
		if item != nil && len(item.Value) > 0 {
			n, _ = strconv.ParseInt(string(item.Value), 10, 64)
		}
		n++
		opt := dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite)
		v := []byte(strconv.FormatInt(n, 10))
		if item == nil || item.Etag == "" {
			err = b.client.SaveState(ctx, b.store, seqKey, v, nil, opt)
		} else {
			err = b.client.SaveStateWithETag(ctx, b.store, seqKey, v, item.Etag, nil, opt)
		}
		if err == nil {
			return n, nil
		}
		if !mismatch(err) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("dead-letter counter: too much contention")
}

func (b stateBackend) list(ctx context.Context, after int64, limit int) ([]Letter, error) {
	item, err := b.client.GetState(ctx, b.store, seqKey, nil)
	if err != nil || item == nil || len(item.Value) == 0 {
		return nil, err
	}
	last, _ := strconv.ParseInt(string(item.Value), 10, 64)
	var keys []string
	for id := after + 1; id <= last && len(keys) < limit; id++ {
		keys = append(keys, letterKey(id))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	items, err := b.client.GetBulkState(ctx, b.store, keys, nil, 8)
	if err != nil {
		return nil, err
	}
	byKey := map[string][]byte{}
	for _, it := range items {
		byKey[it.Key] = it.Value
	}
	var out []Letter
	for _, k := range keys { // in number order; a number taken by a crashed keep has no letter
		var l Letter
		if v := byKey[k]; len(v) > 0 && json.Unmarshal(v, &l) == nil {
			out = append(out, l)
		}
	}
	return out, nil
}
