package adapters

import (
	"context"
	"errors"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/daprstate"
	"github.com/acme/platform/services/platform/errs"
)

// DaprResetTokens keeps password reset tokens by hash in the Dapr state store with a TTL. Take
// deletes the version it read, so of two concurrent uses of one token exactly one succeeds.
type DaprResetTokens struct {
	Client dapr.Client
	Store  string
}

func resetKey(hash string) string { return "password-reset:" + hash }

func (r DaprResetTokens) tokens() daprstate.Store[string] {
	return daprstate.New[string](r.Client, r.Store)
}

func tokenStoreUnavailable(err error) error {
	return errs.Unavailable("auth.store_unavailable", "the token store is unavailable", err)
}

// Save stores the token's user for ttl.
func (r DaprResetTokens) Save(ctx context.Context, hash, userID string, ttl time.Duration) error {
	if err := r.tokens().Create(ctx, resetKey(hash), userID, ttl); err != nil {
		return tokenStoreUnavailable(err)
	}
	return nil
}

// Take returns the token's user and forgets the token.
func (r DaprResetTokens) Take(ctx context.Context, hash string) (string, error) {
	userID, etag, found, err := r.tokens().Get(ctx, resetKey(hash))
	if err != nil {
		return "", tokenStoreUnavailable(err)
	}
	if !found {
		return "", errs.NotFound("auth.reset_token_unknown", "no such reset token")
	}
	err = r.tokens().DeleteAt(ctx, resetKey(hash), etag)
	if errors.Is(err, daprstate.ErrConflict) {
		return "", errs.NotFound("auth.reset_token_unknown", "the reset token was just used")
	}
	if err != nil {
		return "", tokenStoreUnavailable(err)
	}
	return userID, nil
}
