// Package caller carries the authenticated user from the gateway to the backends. The gateway
// validates the bearer token with users and sends the result as gRPC metadata; a backend reads it
// back. A backend believes that metadata only from the apps that may speak for a user, and a
// system:<app> caller only from that app, as Dapr names the calling app to the callee
// (dapr-caller-app-id, which the caller's sidecar sets). Only the sidecar reaches an app's port: the
// app API token (server.NewGRPC) refuses any other local process.
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
	// keyCallerApp is set by the calling app's sidecar on a call it proxies to another app; any value
	// the calling app put there itself comes before it.
	keyCallerApp = "dapr-caller-app-id"
)

// Propagators are the apps that may pass a user's identity on: the gateway, which verified the
// token, and the apps that ask another on behalf of the user who called them (files and
// notifications ask projects for the caller's role).
var Propagators = map[string]bool{"gateway": true, "files": true, "notifications": true}

var self string

// SetSelf names the app this process is (its Dapr app id): a call that names no calling app came
// through the app's own sidecar (its API, guarded by the Dapr API token), so it is the app's own.
func SetSelf(appID string) { self = appID }

// CallingApp is the Dapr app id of the app that made an incoming call, as its sidecar said.
func CallingApp(ctx context.Context) string {
	if v := metadata.ValueFromIncomingContext(ctx, keyCallerApp); len(v) > 0 {
		return v[len(v)-1] // the sidecar's, appended after anything the app sent
	}
	return self
}

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

// From reads the caller of an incoming call; a call without one is unauthenticated. A user caller is
// believed only from a Propagator, a system:<app> caller only from that app: anything else is a
// forged caller, refused.
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
	c := Caller{UserID: id, Roles: roles, Region: first(md, keyRegion), SessionID: first(md, keySession)}
	app := CallingApp(ctx)
	if c.IsSystem() {
		if strings.TrimPrefix(c.UserID, SystemPrefix) != app || app == "" {
			return Caller{}, errs.Unauthenticated("auth.caller_untrusted", "a platform caller must be the app that calls")
		}
		return c, nil
	}
	if !Propagators[app] {
		return Caller{}, errs.Unauthenticated("auth.caller_untrusted", "this app may not call on a user's behalf")
	}
	return c, nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
