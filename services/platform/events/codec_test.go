package events

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hamba/avro/v2"

	avrocontracts "github.com/acme/platform/contracts/avro"
)

func envelopeWith(payload any) Envelope {
	return Envelope{EventID: "3f0c2a7e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", Type: "t", OccurredAt: time.UnixMilli(1_700_000_000_123).UTC(),
		Subject: "s", Actor: "a", Region: "eu", AggregateVersion: 7, Payload: payload}
}

func TestCodec_RoundTripsEveryPayloadOfEveryTopic(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]any{
		TopicUsers: {UserRegistered{UserID: "u", Email: "e@x.io", DisplayName: "E", VerificationToken: "t"}, UserErased{UserID: "u"},
			UserEmailVerified{UserID: "u"}, PasswordChanged{UserID: "u"}, RolesChanged{UserID: "u", Roles: []string{"member", "admin"}},
			PasswordResetRequested{UserID: "u", Email: "e@x.io", Token: "t", ExpiresAt: time.UnixMilli(1_800_000_000_000).UTC()}},
		TopicProjects: {
			ProjectCreated{ProjectID: "p", OwnerID: "o", Name: "n", Slug: "s", Visibility: "private", Tags: []string{"a", "b"}},
			ProjectUpdated{ProjectID: "p", Name: "n", Visibility: "public", Tags: []string{}},
			ProjectArchived{ProjectID: "p", Archived: true}, ProjectDeleted{ProjectID: "p"},
			MemberChanged{ProjectID: "p", UserID: "u", Role: "viewer"},
		},
		TopicBilling: {
			SubscriptionChanged{AccountID: "a", SubscriptionID: "s", Plan: "pro", Status: "active"},
			InvoiceEvent{AccountID: "a", InvoiceID: "i", AmountCents: 1299, Currency: "eur", Status: "paid"},
			UsageRecorded{AccountID: "a", Metric: "api_calls", Quantity: 42},
		},
		TopicAudit: {AuditDetails{Source: "users", ResourceType: "user", Outcome: "denied", Details: map[string]string{"k": "v"}}},
	}
	for topic, payloads := range cases {
		for _, p := range payloads {
			in := envelopeWith(p)
			b, err := c.Encode(topic, in)
			if err != nil {
				t.Fatalf("%s %T: %v", topic, p, err)
			}
			if b[0] != 0xC3 || b[1] != 0x01 {
				t.Fatalf("%s: no single-object header: % x", topic, b[:2])
			}
			out, err := c.Decode(topic, b)
			if err != nil {
				t.Fatalf("%s %T: %v", topic, p, err)
			}
			if out.EventID != in.EventID || !out.OccurredAt.Equal(in.OccurredAt) || out.Region != "eu" || out.AggregateVersion != 7 {
				t.Fatalf("%s: envelope %+v", topic, out)
			}
			if got, want := fmt.Sprintf("%T%+v", out.Payload, out.Payload), fmt.Sprintf("%T%+v", p, p); got != want {
				t.Fatalf("%s: payload %s, want %s", topic, got, want)
			}
		}
	}
}

func TestCodec_RefusesWhatIsNotADatumOfTheTopic(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	users, err := c.Encode(TopicUsers, envelopeWith(UserErased{UserID: "u"}))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"empty":          nil,
		"json":           []byte(`{"type":"user.registered"}`),
		"other topic":    users,
		"truncated":      users[:12],
		"unknown schema": append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, users[10:]...),
	} {
		topic := TopicAudit
		if name == "truncated" {
			topic = TopicUsers
		}
		if _, err := c.Decode(topic, data); !errors.Is(err, ErrUndecodable) {
			t.Errorf("%s: got %v, want ErrUndecodable", name, err)
		}
	}
}

// Every schema a producer ever used is kept in contracts/avro/history/<topic>/vN.avsc, the current one
// included, and the current schema must read data written with each of them (backward compatibility).
// Changing a schema therefore means adding its next version there, and this test checks the change.
func TestSchemas_CurrentIsSnapshottedAndReadsEveryEarlierVersion(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	compat := avro.NewSchemaCompatibility()
	for _, topic := range Topics {
		reader, _ := c.Schema(topic)
		readerFP := Fingerprint(reader)
		old, _ := filepath.Glob(filepath.Join("..", "..", "..", "contracts", "avro", "history", topic, "*.avsc"))
		snapshotted := false
		for _, f := range old {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			w, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if bytes.Equal(Fingerprint(w), readerFP) {
				snapshotted = true
			}
			if err := compat.Compatible(reader, w); err != nil {
				t.Errorf("%s cannot read data written with %s: %v", topic, f, err)
			}
		}
		if !snapshotted {
			t.Errorf("%s: the current schema is not in contracts/avro/history/%s; add it as the next version", topic, topic)
		}
	}
}

// The compatibility check is real: a change that breaks old data is caught, and old data is decoded
// through schema resolution.
func TestCodec_DecodesDataOfAnEarlierSchemaVersion(t *testing.T) {
	current, err := avrocontracts.FS.ReadFile(TopicUsers + ".avsc")
	if err != nil {
		t.Fatal(err)
	}
	// An earlier version without aggregate_version.
	older := []byte(`{"type":"record","name":"UserEvent","namespace":"acme.users.v1","fields":[
		{"name":"event_id","type":{"type":"string","logicalType":"uuid"}},
		{"name":"type","type":"string"},
		{"name":"occurred_at","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"subject","type":"string"},{"name":"actor","type":"string"},
		{"name":"region","type":{"type":"enum","name":"Region","namespace":"acme.common.v1","symbols":["us","eu"]}},
		{"name":"payload","type":[{"type":"record","name":"UserRegistered","fields":[
			{"name":"user_id","type":"string"},{"name":"email","type":"string"},{"name":"display_name","type":"string"}]}]}]}`)
	fsys := fstest.MapFS{}
	for _, topic := range Topics {
		b, _ := avrocontracts.FS.ReadFile(topic + ".avsc")
		fsys[topic+".avsc"] = &fstest.MapFile{Data: b}
	}
	fsys["acme.users.events.avsc"] = &fstest.MapFile{Data: current}
	fsys["history/acme.users.events/v0.avsc"] = &fstest.MapFile{Data: older}
	c, err := NewCodecFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := avro.ParseBytesWithCache(older, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	type oldEnvelope struct {
		EventID    string    `avro:"event_id"`
		Type       string    `avro:"type"`
		OccurredAt time.Time `avro:"occurred_at"`
		Subject    string    `avro:"subject"`
		Actor      string    `avro:"actor"`
		Region     string    `avro:"region"`
		Payload    any       `avro:"payload"`
	}
	body, err := avro.Marshal(ws, oldEnvelope{EventID: "3f0c2a7e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", Type: "user.registered",
		OccurredAt: time.UnixMilli(1000).UTC(), Subject: "u", Actor: "u", Region: "us",
		Payload: UserRegistered{UserID: "u", Email: "e@x.io", DisplayName: "E"}})
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint(ws)
	data := append(append([]byte{0xC3, 0x01}, fp...), body...)
	e, err := c.Decode(TopicUsers, data)
	if err != nil {
		t.Fatal(err)
	}
	if e.AggregateVersion != 0 || e.Type != "user.registered" || e.Payload.(UserRegistered).Email != "e@x.io" {
		t.Fatalf("decoded %+v", e)
	}

	// Removing a field without a default from the reader's point of view breaks old data: caught.
	breaking := []byte(`{"type":"record","name":"UserEvent","namespace":"acme.users.v1","fields":[
		{"name":"event_id","type":"string"},{"name":"tenant","type":"string"}]}`)
	br, err := avro.ParseBytesWithCache(breaking, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	if err := avro.NewSchemaCompatibility().Compatible(br, ws); err == nil {
		t.Fatal("a reader with a new field without default was judged compatible")
	}
}

func TestNewCodec_RefusesAPayloadWithoutAGoType(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, topic := range Topics {
		b, _ := avrocontracts.FS.ReadFile(topic + ".avsc")
		fsys[topic+".avsc"] = &fstest.MapFile{Data: b}
	}
	b, _ := avrocontracts.FS.ReadFile(TopicAudit + ".avsc")
	fsys[TopicAudit+".avsc"] = &fstest.MapFile{Data: bytes.Replace(b, []byte(`"payload", "type": [`),
		[]byte(`"payload", "type": [{"type": "record", "name": "Stray", "fields": []},`), 1)}
	if _, err := NewCodecFS(fsys); err == nil || !strings.Contains(err.Error(), "acme.audit.v1.Stray") {
		t.Fatalf("got %v, want a refusal naming acme.audit.v1.Stray", err)
	}
}
