// Package caller carries the authenticated user from the gateway to the backends. The gateway
// validates the bearer token with users and sends the result as gRPC metadata; a backend reads it
// back. Only the gateway may invoke the backends that trust it (Dapr access control on Kubernetes).
package caller

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/acme/platform/services/platform/errs"
)

// Metadata keys.
const (
	keyID      = "acme-caller-id"
	keyRoles   = "acme-caller-roles"
	keyRegion  = "acme-caller-region"
	keySession = "acme-caller-session"
	keyIP      = "acme-client-ip"
)

// Caller is who a call is made for.
type Caller struct {
	UserID    string
	Roles     []string
	Region    string
	SessionID string
}

// SystemPrefix starts the caller id of a service acting on its own (system:search), never a user's.
const SystemPrefix = "system:"

// IsSystem reports whether the caller is a platform service rather than a user. The gateway sets the
// caller from a verified token, whose subject is always a user id, so no client can become one.
func (c Caller) IsSystem() bool {
	return strings.HasPrefix(c.UserID, SystemPrefix) && len(c.UserID) > len(SystemPrefix)
}

// IsAdmin reports whether the caller holds the platform admin role.
func (c Caller) IsAdmin() bool {
	for _, r := range c.Roles {
		if r == "admin" {
			return true
		}
	}
	return false
}

// Outgoing returns ctx with c attached to outgoing gRPC calls.
func Outgoing(ctx context.Context, c Caller) context.Context {
	return metadata.AppendToOutgoingContext(ctx, keyID, c.UserID, keyRoles, strings.Join(c.Roles, ","), keyRegion, c.Region,
		keySession, c.SessionID)
}

// WithClientIP returns ctx carrying the client's address to outgoing calls; users limits failed
// logins per address with it.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, keyIP, ip)
}

// ClientIP is the client address the gateway saw, or "".
func ClientIP(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	return first(md, keyIP)
}

// From reads the caller of an incoming call; a call without one is unauthenticated.
func From(ctx context.Context) (Caller, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	id := first(md, keyID)
	if id == "" {
		return Caller{}, errs.Unauthenticated("auth.caller_missing", "the call carries no authenticated caller")
	}
	var roles []string
	if r := first(md, keyRoles); r != "" {
		roles = strings.Split(r, ",")
	}
	return Caller{UserID: id, Roles: roles, Region: first(md, keyRegion), SessionID: first(md, keySession)}, nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
