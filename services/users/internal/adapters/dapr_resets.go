package adapters

import (
	"context"
	"encoding/json"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/errs"
)

// DaprResetTokens keeps password reset tokens by hash in the Dapr state store with a TTL. Take
// deletes with the ETag it read, so of two concurrent uses of one token exactly one succeeds.
type DaprResetTokens struct {
	Client dapr.Client
	Store  string
}

func resetKey(hash string) string { return "password-reset:" + hash }

// Save stores the token's user for ttl.
func (r DaprResetTokens) Save(ctx context.Context, hash, userID string, ttl time.Duration) error {
	b, _ := json.Marshal(userID)
	if err := r.Client.SaveState(ctx, r.Store, resetKey(hash), b, ttlMeta(ttl)); err != nil {
		return errs.Unavailable("auth.store_unavailable", "the token store is unavailable", err)
	}
	return nil
}

// Take returns the token's user and forgets the token.
func (r DaprResetTokens) Take(ctx context.Context, hash string) (string, error) {
	item, err := r.Client.GetState(ctx, r.Store, resetKey(hash), nil)
	if err != nil {
		return "", errs.Unavailable("auth.store_unavailable", "the token store is unavailable", err)
	}
	if item == nil || len(item.Value) == 0 {
		return "", errs.NotFound("auth.reset_token_unknown", "no such reset token")
	}
	err = r.Client.DeleteStateWithETag(ctx, r.Store, resetKey(hash), &dapr.ETag{Value: item.Etag}, nil,
		&dapr.StateOptions{Concurrency: dapr.StateConcurrencyFirstWrite})
	if isETagMismatch(err) {
		return "", errs.NotFound("auth.reset_token_unknown", "the reset token was just used")
	}
	if err != nil {
		return "", errs.Unavailable("auth.store_unavailable", "the token store is unavailable", err)
	}
	var userID string
	if err := json.Unmarshal(item.Value, &userID); err != nil {
		return "", errs.Internal(err)
	}
	return userID, nil
}
