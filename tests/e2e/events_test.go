package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	auditv1 "github.com/acme/platform/contracts/gen/go/acme/audit/v1"
	"github.com/acme/platform/services/platform/events"
)

// auditClient calls the audit app through the audit sidecar, as any app would.
func auditClient(t *testing.T) (auditv1.AuditServiceClient, func(context.Context) context.Context) {
	t.Helper()
	a := env.topo.App("audit")
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", a.GRPCPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return auditv1.NewAuditServiceClient(conn), func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "dapr-app-id", "audit")
	}
}

// auditRecords polls audit until want(records of subject) holds or 10 s pass.
func auditRecords(t *testing.T, subject string, want func([]*auditv1.AuditRecord) bool) []*auditv1.AuditRecord {
	t.Helper()
	client, withApp := auditClient(t)
	deadline := time.Now().Add(10 * time.Second)
	var recs []*auditv1.AuditRecord
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := client.ListRecords(withApp(ctx), &auditv1.ListRecordsRequest{Subject: subject})
		cancel()
		if err == nil {
			recs = resp.GetRecords()
			if want(recs) {
				return recs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit records of %s after 10s: %v (last error %v)", subject, recs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEvents_UserRegisteredReachesAuditThroughKafka(t *testing.T) {
	u := registerUser(t, "audit")
	recs := auditRecords(t, u.ID, func(rs []*auditv1.AuditRecord) bool { return len(rs) > 0 })
	if len(recs) != 1 {
		t.Fatalf("want exactly one record of the registration, got %d: %v", len(recs), recs)
	}
	r := recs[0]
	if r.GetType() != "user.registered" || r.GetActor() != u.ID || r.GetRegion() != "eu" || r.GetSource() != "users" || r.GetOutcome() != "success" {
		t.Fatalf("record %+v", r)
	}

	// A login and a logout are audited too, under the session's id.
	s := login(t, u.Email, goodPassword)
	request(t, "POST", "/v1/auth/logout", nil, bearer(s.AccessToken)).expect(t, 204)
	client, withApp := auditClient(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.ListRecords(withApp(context.Background()), &auditv1.ListRecordsRequest{Type: "session.ended", PageSize: 500})
		if err == nil {
			for _, rec := range resp.GetRecords() {
				if rec.GetActor() == u.ID {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session.ended record for %s after 10s (err %v)", u.ID, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A consumer that knows nothing of Dapr reads the event straight from Kafka: the value is an Avro
// single-object datum of contracts/avro, the key is the user id.
func TestEvents_PlainKafkaConsumerDecodesUserRegistered(t *testing.T) {
	u := registerUser(t, "kafka")
	var found consumed
	readTopic(t, events.TopicUsers, func(c consumed) bool {
		if string(c.Record.Key) != u.ID {
			return false
		}
		found = c
		return true
	})
	e := found.Event
	p, ok := e.Payload.(events.UserRegistered)
	if !ok || e.Type != "user.registered" || e.Subject != u.ID || p.Email != u.Email || p.UserID != u.ID || e.Region != "eu" || e.EventID == "" {
		t.Fatalf("event %+v", e)
	}
	headers := map[string]string{}
	for _, h := range found.Record.Headers {
		headers[h.Key] = string(h.Value)
	}
	if headers["event-type"] != "user.registered" || headers["event-id"] != e.EventID {
		t.Fatalf("headers %v", headers)
	}
}
