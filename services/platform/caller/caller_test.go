package caller

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/acme/platform/services/platform/errs"
)

// incoming is a call as the callee sees it: the caller metadata, then the calling app's sidecar's
// dapr-caller-app-id after whatever the app itself sent.
func incoming(kv ...string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(kv...))
}

func TestFrom_BelievesOnlyWhatTheCallingAppMaySay(t *testing.T) {
	SetSelf("search")
	defer SetSelf("")
	cases := []struct {
		name string
		ctx  context.Context
		want string // the caller id, or "" for refused
	}{
		{"a user from the gateway", incoming(keyID, "u1", keyCallerApp, "gateway"), "u1"},
		{"a user passed on by files", incoming(keyID, "u1", keyCallerApp, "files"), "u1"},
		{"a user from billing", incoming(keyID, "u1", keyCallerApp, "billing"), ""},
		{"a user claimed through the app's own sidecar", incoming(keyID, "u1"), ""},
		{"system:files from files", incoming(keyID, "system:files", keyCallerApp, "files"), "system:files"},
		{"system:users from files", incoming(keyID, "system:users", keyCallerApp, "files"), ""},
		{"system:search through search's own sidecar", incoming(keyID, "system:search"), "system:search"},
		{"system:users through search's own sidecar", incoming(keyID, "system:users"), ""},
		// The app sent dapr-caller-app-id itself; its sidecar's value comes last and wins.
		{"a forged calling app", incoming(keyID, "u1", keyCallerApp, "gateway", keyCallerApp, "billing"), ""},
		{"a forged system caller", incoming(keyID, "system:gateway", keyCallerApp, "gateway", keyCallerApp, "notifications"), ""},
		{"a bare prefix", incoming(keyID, "system:", keyCallerApp, "gateway"), "system:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := From(tc.ctx)
			if tc.want == "" {
				if errs.As(err).Code != "auth.caller_untrusted" {
					t.Fatalf("believed %+v (%v)", c, err)
				}
				return
			}
			if err != nil || c.UserID != tc.want {
				t.Fatalf("%+v %v, want %s", c, err, tc.want)
			}
		})
	}
	if _, err := From(incoming(keyCallerApp, "gateway")); errs.As(err).Code != "auth.caller_missing" {
		t.Fatalf("no caller: %v", err)
	}
}
