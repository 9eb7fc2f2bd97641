package adapters

import (
	"context"
	"errors"
	"time"

	dapr "github.com/dapr/go-sdk/client"

	"github.com/acme/platform/services/platform/daprstate"
	"github.com/acme/platform/services/platform/errs"
)

// DaprResetTokens keeps password reset tokens by hash in the Dapr state store with a TTL, and for
// each account the hash of its one outstanding token: a new token ends the one before, and a
// password change ends it. Take deletes the version it read, so of two concurrent uses of one token
// exactly one succeeds.
type DaprResetTokens struct {
	Client dapr.Client
	Store  string
}

func resetKey(hash string) string       { return "password-reset:" + hash }
func resetUserKey(userID string) string { return "password-reset-user:" + userID }

func (r DaprResetTokens) tokens() daprstate.Store[string] {
	return daprstate.New[string](r.Client, r.Store)
}

func tokenStoreUnavailable(err error) error {
	return errs.Unavailable("auth.store_unavailable", "the token store is unavailable", err)
}

var errNoToken = errs.NotFound("auth.reset_token_unknown", "no such reset token")

// Save stores the token's user for ttl and makes it the account's outstanding token, ending the
// one before.
func (r DaprResetTokens) Save(ctx context.Context, hash, userID string, ttl time.Duration) error {
	if err := r.tokens().Create(ctx, resetKey(hash), userID, ttl); err != nil {
		return tokenStoreUnavailable(err)
	}
	var previous string
	_, err := r.tokens().Update(ctx, resetUserKey(userID), ttl, func(h *string, _ bool) error {
		previous, *h = *h, hash
		return nil
	})
	if err != nil {
		return tokenStoreUnavailable(err)
	}
	if previous != "" && previous != hash {
		if err := r.tokens().Delete(ctx, resetKey(previous)); err != nil {
			return tokenStoreUnavailable(err)
		}
	}
	return nil
}

// Peek returns the token's user without spending it.
func (r DaprResetTokens) Peek(ctx context.Context, hash string) (string, error) {
	userID, _, found, err := r.tokens().Get(ctx, resetKey(hash))
	if err != nil {
		return "", tokenStoreUnavailable(err)
	}
	if !found {
		return "", errNoToken
	}
	return userID, nil
}

// Take returns the token's user and forgets the token; a token that is no longer the account's
// outstanding one is unknown.
func (r DaprResetTokens) Take(ctx context.Context, hash string) (string, error) {
	userID, etag, found, err := r.tokens().Get(ctx, resetKey(hash))
	if err != nil {
		return "", tokenStoreUnavailable(err)
	}
	if !found {
		return "", errNoToken
	}
	current, _, _, err := r.tokens().Get(ctx, resetUserKey(userID))
	if err != nil {
		return "", tokenStoreUnavailable(err)
	}
	if current != hash {
		return "", errNoToken
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

// RevokeAll ends the account's outstanding token.
func (r DaprResetTokens) RevokeAll(ctx context.Context, userID string) error {
	current, _, found, err := r.tokens().Get(ctx, resetUserKey(userID))
	if err != nil {
		return tokenStoreUnavailable(err)
	}
	if !found {
		return nil
	}
	if err := r.tokens().Delete(ctx, resetKey(current)); err != nil {
		return tokenStoreUnavailable(err)
	}
	if err := r.tokens().Delete(ctx, resetUserKey(userID)); err != nil {
		return tokenStoreUnavailable(err)
	}
	return nil
}
