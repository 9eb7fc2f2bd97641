package events

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/pkg/crc64"
)

// ParsingCanonicalForm is the schema in the Avro specification's Parsing Canonical Form: full names,
// only the attributes that matter for parsing (type, name, fields, symbols, items, values, size) in
// that order, no whitespace. hamba/avro's own canonical string keeps logicalType, so a fingerprint
// over it matches no other language's; this one is what Java, Python and JavaScript consumers compute.
func ParsingCanonicalForm(s avro.Schema) string {
	var b strings.Builder
	writeCanonical(&b, s)
	return b.String()
}

func writeCanonical(b *strings.Builder, s avro.Schema) {
	switch s := s.(type) {
	case *avro.RefSchema: // a named type seen before is written as its full name
		writeString(b, s.Schema().(avro.NamedSchema).FullName())
	case *avro.RecordSchema:
		b.WriteString(`{"name":`)
		writeString(b, s.FullName())
		b.WriteString(`,"type":"record","fields":[`)
		for i, f := range s.Fields() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"name":`)
			writeString(b, f.Name())
			b.WriteString(`,"type":`)
			writeCanonical(b, f.Type())
			b.WriteByte('}')
		}
		b.WriteString(`]}`)
	case *avro.EnumSchema:
		b.WriteString(`{"name":`)
		writeString(b, s.FullName())
		b.WriteString(`,"type":"enum","symbols":[`)
		for i, sym := range s.Symbols() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, sym)
		}
		b.WriteString(`]}`)
	case *avro.FixedSchema:
		b.WriteString(`{"name":`)
		writeString(b, s.FullName())
		b.WriteString(`,"type":"fixed","size":` + strconv.Itoa(s.Size()) + `}`)
	case *avro.ArraySchema:
		b.WriteString(`{"type":"array","items":`)
		writeCanonical(b, s.Items())
		b.WriteByte('}')
	case *avro.MapSchema:
		b.WriteString(`{"type":"map","values":`)
		writeCanonical(b, s.Values())
		b.WriteByte('}')
	case *avro.UnionSchema:
		b.WriteByte('[')
		for i, t := range s.Types() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCanonical(b, t)
		}
		b.WriteByte(']')
	default: // null and the primitives; a logical type is not part of the canonical form
		writeString(b, string(s.Type()))
	}
}

func writeString(b *strings.Builder, v string) {
	q, _ := json.Marshal(v) // names and symbols are [A-Za-z0-9_.]: nothing to escape in practice
	b.Write(q)
}

// Fingerprint is the schema's CRC-64-AVRO fingerprint over its Parsing Canonical Form, little-endian,
// as Avro single-object encoding writes it.
func Fingerprint(s avro.Schema) []byte {
	sum := crc64.SumWithByteOrder([]byte(ParsingCanonicalForm(s)), crc64.LittleEndian)
	return sum[:]
}

// legacyFingerprint is the fingerprint the platform wrote before it followed the specification
// (CRC-64-AVRO over hamba/avro's canonical string, which keeps logicalType). Decoders still accept it
// for the datums already on topics, in outboxes and in dead-letter stores; see the README for how long.
func legacyFingerprint(s avro.Schema) ([]byte, error) {
	return s.FingerprintUsing(avro.CRC64AvroLE)
}
