// Package daprstate is typed JSON state in a Dapr state store (Redis here and on Kubernetes), with
// the concurrency rules every service needs and the Redis store's gaps closed:
//
//   - Create writes only where nothing is (first-write); Replace writes only over the version read
//     (ETag); Update reads, changes and replaces, retrying when another writer won.
//   - Dapr's Redis store accepts an ETag write on a key that no longer exists, so a value deleted
//     between a read and its write would come back. Delete therefore leaves a tombstone (a marker
//     value that expires after TombstoneTTL) instead of removing the key: the tombstone has a new
//     version, so the stale ETag no longer matches, and Get reports the key as absent. (A key whose
//     own TTL runs out between a read and a write is not covered: Redis keeps nothing of it.)
//   - Every write of a key goes through its ETag: the Redis store refuses a plain write to a key
//     created first-write.
package daprstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrConflict: the key changed (or was deleted) since it was read, or exists where Create wanted
// nothing.
var ErrConflict = errors.New("daprstate: the value changed concurrently")

// ErrContended: Update gave up after too many writers won before it.
var ErrContended = errors.New("daprstate: too many concurrent writers")

// TombstoneTTL is how long a deleted key stays deleted for writers holding an older ETag. No
// read-then-write of the platform spans more than seconds.
const TombstoneTTL = 24 * time.Hour

// tombstone is what a deleted key holds: no value of the platform's marshals to it.
var tombstone = []byte(`{"$acme_deleted":true}`)

// Store is one state store's keys holding values of type T, as JSON.
type Store[T any] struct {
	Client dapr.Client
	Name   string
}

// New returns the store for values of T in the state store called name.
func New[T any](client dapr.Client, name string) Store[T] {
	return Store[T]{Client: client, Name: name}
}

func meta(ttl time.Duration) map[string]string {
	m := map[string]string{"contentType": "application/json"}
	if ttl > 0 {
		m["ttlInSeconds"] = strconv.Itoa(max(1, int(ttl.Round(time.Second).Seconds())))
	}
	return m
}

func isConflict(err error) bool {
	c := status.Code(err)
	return c == codes.Aborted || c == codes.FailedPrecondition
}

// Get reads key. found is false when the key does not exist, expired or was deleted; etag is what
// Replace and Delete compare against (also for a deleted key, so a Create can follow).
func (s Store[T]) Get(ctx context.Context, key string) (v T, etag string, found bool, err error) {
	item, err := s.Client.GetState(ctx, s.Name, key, nil)
	if err != nil {
		return v, "", false, err
	}
	if item == nil || len(item.Value) == 0 {
		return v, "", false, nil
	}
	if bytes.Equal(item.Value, tombstone) {
		return v, item.Etag, false, nil
	}
	if err := json.Unmarshal(item.Value, &v); err != nil {
		return v, "", false, fmt.Errorf("daprstate: %s: %w", key, err)
	}
	return v, item.Etag, true, nil
}

// GetMany reads keys in one call; absent, expired and deleted keys are left out of the result.
func (s Store[T]) GetMany(ctx context.Context, keys []string) (map[string]T, error) {
	items, err := s.Client.GetBulkState(ctx, s.Name, keys, nil, 8)
	if err != nil {
		return nil, err
	}
	out := map[string]T{}
	for _, it := range items {
		if it.Error != "" || len(it.Value) == 0 || bytes.Equal(it.Value, tombstone) {
			continue
		}
		var v T
		if json.Unmarshal(it.Value, &v) == nil {
			out[it.Key] = v
		}
	}
	return out, nil
}

// Create writes v at key only if nothing is there; ErrConflict otherwise (a live value, or a
// tombstone: a deleted key is not reused). ttl 0 keeps it until deleted.
func (s Store[T]) Create(ctx context.Context, key string, v T, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.create(ctx, key, b, ttl)
}

// create is a first-write save without an ETag. The Redis store answers one that meets an existing
// key with an internal error ("failed to set key"), not with a concurrency status; a look at the
// key tells the two apart.
func (s Store[T]) create(ctx context.Context, key string, b []byte, ttl time.Duration) error {
	err := s.Client.SaveState(ctx, s.Name, key, b, meta(ttl), dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite))
	if err == nil {
		return nil
	}
	if isConflict(err) {
		return ErrConflict
	}
	if item, gerr := s.Client.GetState(ctx, s.Name, key, nil); gerr == nil && item != nil && len(item.Value) > 0 {
		return ErrConflict
	}
	return err
}

// Replace writes v at key only if key is still at etag; ErrConflict when it changed, was deleted,
// or expired meanwhile.
func (s Store[T]) Replace(ctx context.Context, key string, v T, etag string, ttl time.Duration) error {
	if etag == "" {
		return fmt.Errorf("daprstate: Replace of %s without an ETag", key)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.write(ctx, key, b, etag, ttl)
}

func (s Store[T]) write(ctx context.Context, key string, b []byte, etag string, ttl time.Duration) error {
	// Dapr's Redis store accepts an ETag write on a missing key: a key deleted through Delete holds a
	// tombstone with a newer version, so the write is refused; a key whose TTL ran out between the
	// read and this write is written again (a value with a TTL also carries its own expiry, which
	// the use case checked when it read it).
	err := s.Client.SaveStateWithETag(ctx, s.Name, key, b, etag, meta(ttl), dapr.WithConcurrency(dapr.StateConcurrencyFirstWrite))
	if isConflict(err) {
		return ErrConflict
	}
	return err
}

// Update applies change to the value at key (the zero T and exists false when there is none) and
// writes the result, retrying when another writer won; it returns what it wrote. change returning
// an error stops it without writing. A key deleted meanwhile counts as absent on the next try.
func (s Store[T]) Update(ctx context.Context, key string, ttl time.Duration, change func(v *T, exists bool) error) (T, error) {
	for range 50 {
		v, etag, found, err := s.Get(ctx, key)
		if err != nil {
			return v, err
		}
		if err := change(&v, found); err != nil {
			return v, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return v, err
		}
		if etag == "" {
			err = s.create(ctx, key, b, ttl)
		} else {
			err = s.write(ctx, key, b, etag, ttl)
		}
		if err == nil || !errors.Is(err, ErrConflict) {
			return v, err
		}
	}
	var zero T
	return zero, fmt.Errorf("%s: %w", key, ErrContended)
}

// Delete deletes key whatever its version: it leaves a tombstone, so a writer that read the value
// before cannot bring it back. Deleting an absent key is not an error.
func (s Store[T]) Delete(ctx context.Context, key string) error {
	for range 50 {
		_, etag, found, err := s.Get(ctx, key)
		if err != nil {
			return err
		}
		if !found {
			return nil
		}
		if err := s.write(ctx, key, tombstone, etag, TombstoneTTL); !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("%s: %w", key, ErrContended)
}

// DeleteAt deletes key only if it is still at etag (consume once: of two deleters that read the same
// version, one gets ErrConflict).
func (s Store[T]) DeleteAt(ctx context.Context, key, etag string) error {
	if etag == "" {
		return fmt.Errorf("daprstate: DeleteAt of %s without an ETag", key)
	}
	return s.write(ctx, key, tombstone, etag, TombstoneTTL)
}
