package adapters

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/acme/platform/services/users/internal/app"
)

// Sessions already in Redis were written with these names; the stored form keeps them, so a
// deploy signs nobody out.
func TestStoredSession_KeepsTheFormatInRedis(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	b, err := json.Marshal(stored(app.Session{ID: "s", UserID: "u", Roles: []string{"member"}, Region: "eu", RefreshHash: "h",
		CreatedAt: at, ExpiresAt: at}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"s","user_id":"u","roles":["member"],"region":"eu","refresh_hash":"h","created_at":"2026-05-01T12:00:00Z","expires_at":"2026-05-01T12:00:00Z"}`
	if string(b) != want {
		t.Fatalf("stored as %s\nwant        %s", b, want)
	}
	var back storedSession
	if err := json.Unmarshal([]byte(`{"id":"s","user_id":"u","previous_hashes":["p"],"refreshed_at":"2026-05-01T12:00:00Z"}`), &back); err != nil ||
		back.session().PreviousHashes[0] != "p" || !back.session().RefreshedAt.Equal(at) {
		t.Fatalf("read back %+v %v", back, err)
	}
}
