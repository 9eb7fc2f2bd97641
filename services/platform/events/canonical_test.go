package events

import (
	"encoding/hex"
	"testing"

	"github.com/hamba/avro/v2"
)

// The Avro specification's vector (the Ruby and Python implementations test the same one): "int"
// has the CRC-64-AVRO fingerprint 0x7275d51a3f395c8f, written little-endian after C3 01.
func TestFingerprint_SpecificationVector(t *testing.T) {
	s := avro.MustParse(`{"type":"int"}`)
	if got := hex.EncodeToString(Fingerprint(s)); got != "8f5c393f1ad57572" {
		t.Fatalf("fingerprint of int: %s, want 8f5c393f1ad57572", got)
	}
}

// Parsing Canonical Form keeps only type, name, fields, symbols, items, values and size, with full
// names; doc, defaults, aliases, namespaces and logical types go.
func TestParsingCanonicalForm_StripsWhatDoesNotParse(t *testing.T) {
	s := avro.MustParse(`{"type":"record","name":"E","namespace":"acme.x.v1","doc":"d","aliases":["Old"],"fields":[
		{"name":"id","type":{"type":"string","logicalType":"uuid"},"doc":"k"},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"r","type":{"type":"enum","name":"Region","namespace":"acme.common.v1","symbols":["us","eu"],"default":"us"}},
		{"name":"r2","type":"acme.common.v1.Region"},
		{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
		{"name":"m","type":{"type":"map","values":["null","int"]}},
		{"name":"h","type":{"type":"fixed","name":"H","size":4}},
		{"name":"v","type":"long","default":0}]}`)
	want := `{"name":"acme.x.v1.E","type":"record","fields":[{"name":"id","type":"string"},{"name":"at","type":"long"},` +
		`{"name":"r","type":{"name":"acme.common.v1.Region","type":"enum","symbols":["us","eu"]}},` +
		`{"name":"r2","type":"acme.common.v1.Region"},{"name":"tags","type":{"type":"array","items":"string"}},` +
		`{"name":"m","type":{"type":"map","values":["null","int"]}},{"name":"h","type":{"name":"acme.x.v1.H","type":"fixed","size":4}},` +
		`{"name":"v","type":"long"}]}`
	if got := ParsingCanonicalForm(s); got != want {
		t.Fatalf("canonical form\n got %s\nwant %s", got, want)
	}
	// A logical type changes neither the canonical form nor the fingerprint.
	if ParsingCanonicalForm(avro.MustParse(`{"type":"long","logicalType":"timestamp-millis"}`)) != `"long"` {
		t.Fatal("timestamp-millis long is not canonically \"long\"")
	}
}

// Datums already on topics, in outboxes and in dead-letter stores carry the fingerprint the platform
// wrote before it followed the specification; they stay readable.
func TestCodec_DecodesDatumsWithTheLegacyFingerprint(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range Topics {
		reader, _ := c.Schema(topic)
		legacy, err := legacyFingerprint(reader)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(legacy) == hex.EncodeToString(Fingerprint(reader)) {
			t.Fatalf("%s: the legacy and the canonical fingerprints are the same; nothing to test", topic)
		}
		e := envelopeWith(map[string]any{
			TopicUsers: UserErased{UserID: "u"}, TopicProjects: ProjectDeleted{ProjectID: "p"},
			TopicBilling: UsageRecorded{AccountID: "a", Metric: "m", Quantity: 1}, TopicAudit: AuditDetails{Source: "s", ResourceType: "user", Outcome: "denied"},
		}[topic])
		data, err := c.Encode(topic, e)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(data[2:10]) != hex.EncodeToString(Fingerprint(reader)) {
			t.Fatalf("%s: Encode wrote fingerprint %x", topic, data[2:10])
		}
		old := append(append([]byte{0xC3, 0x01}, legacy...), data[10:]...)
		got, err := c.Decode(topic, old)
		if err != nil {
			t.Fatalf("%s: a datum with the legacy fingerprint: %v", topic, err)
		}
		if got.EventID != e.EventID || got.Type != e.Type {
			t.Fatalf("%s: decoded %+v", topic, got)
		}
	}
}
