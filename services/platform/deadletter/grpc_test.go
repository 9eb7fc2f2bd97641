package deadletter

import (
	"bytes"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/events"
)

// A dead letter that holds a token (written before events stopped carrying them) is listed with the
// token replaced; anything else is listed as it came.
func TestRedact_HidesTokensOfOldEvents(t *testing.T) {
	c, err := events.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	e := events.Envelope{EventID: "6f7c1c52-9d0e-4c3a-8a53-0e2a5b1d2c3f", Type: "user.password_reset_requested", OccurredAt: time.Now().UTC().Truncate(time.Millisecond),
		Subject: "u", Actor: "u", Region: "us", Payload: events.PasswordResetRequested{UserID: "u", Email: "a@example.com", Token: "s3cret",
			ExpiresAt: time.Now().UTC().Truncate(time.Millisecond)}}
	data, err := c.Encode(events.TopicUsers, e)
	if err != nil {
		t.Fatal(err)
	}
	out := redact(events.TopicUsers+".deadletter.notifications", data)
	if bytes.Contains(out, []byte("s3cret")) {
		t.Fatal("the token is listed")
	}
	back, err := c.Decode(events.TopicUsers, out)
	if err != nil || back.Payload.(events.PasswordResetRequested).Token != Redacted || back.Payload.(events.PasswordResetRequested).Email != "a@example.com" {
		t.Fatalf("%+v %v", back, err)
	}
	if poison := []byte("not avro"); !bytes.Equal(redact("acme.users.events.deadletter.search", poison), poison) {
		t.Fatal("poison was changed")
	}
}
