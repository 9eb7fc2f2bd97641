package events

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sync"

	"github.com/hamba/avro/v2"

	avrocontracts "github.com/acme/platform/contracts/avro"
)

// ContentType is what the outbox records for Avro single-object datums.
const ContentType = "application/avro"

var magic = []byte{0xC3, 0x01}

// ErrUndecodable marks bytes that are not a datum of a known schema of the topic; no retry helps.
var ErrUndecodable = errors.New("not an event of a known schema")

type topicSchemas struct {
	reader  avro.Schema
	writers map[string]avro.Schema // by fingerprint: the current schema and every historic one
	header  []byte                 // magic + fingerprint of the reader
}

// Codec encodes envelopes with a topic's current schema and decodes datums written with any known
// version of it.
type Codec struct {
	topics map[string]*topicSchemas
	compat *avro.SchemaCompatibility
	mu     sync.Mutex
	resolv map[string]avro.Schema
}

// NewCodec reads the schemas from contracts/avro.
func NewCodec() (*Codec, error) { return NewCodecFS(avrocontracts.FS) }

// NewCodecFS reads <topic>.avsc and history/<topic>/*.avsc from fsys.
func NewCodecFS(fsys fs.FS) (*Codec, error) {
	c := &Codec{topics: map[string]*topicSchemas{}, compat: avro.NewSchemaCompatibility(), resolv: map[string]avro.Schema{}}
	for _, topic := range Topics {
		reader, err := parseFile(fsys, topic+".avsc")
		if err != nil {
			return nil, err
		}
		if err := checkPayloadTypes(topic, reader); err != nil {
			return nil, err
		}
		fp := Fingerprint(reader)
		ts := &topicSchemas{reader: reader, writers: map[string]avro.Schema{}, header: append(append([]byte{}, magic...), fp...)}
		if err := ts.addWriter(reader); err != nil {
			return nil, err
		}
		old, _ := fs.Glob(fsys, path.Join("history", topic, "*.avsc"))
		for _, name := range old {
			w, err := parseFile(fsys, name)
			if err != nil {
				return nil, err
			}
			if err := ts.addWriter(w); err != nil {
				return nil, err
			}
		}
		c.topics[topic] = ts
	}
	return c, nil
}

// addWriter makes datums written with w readable, by its fingerprint and by the legacy one; a schema
// already known by a fingerprint keeps it (the current schema is added first).
func (ts *topicSchemas) addWriter(w avro.Schema) error {
	legacy, err := legacyFingerprint(w)
	if err != nil {
		return err
	}
	for _, fp := range [][]byte{Fingerprint(w), legacy} {
		if _, known := ts.writers[string(fp)]; !known {
			ts.writers[string(fp)] = w
		}
	}
	return nil
}

// checkPayloadTypes makes sure every branch of the payload union has a Go type.
func checkPayloadTypes(topic string, s avro.Schema) error {
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return fmt.Errorf("%s: schema is not a record", topic)
	}
	for _, f := range rec.Fields() {
		if f.Name() != "payload" {
			continue
		}
		union, ok := f.Type().(*avro.UnionSchema)
		if !ok {
			return fmt.Errorf("%s: payload is not a union", topic)
		}
		for _, branch := range union.Types() {
			named, ok := branch.(avro.NamedSchema)
			if !ok {
				return fmt.Errorf("%s: payload branch %s is not a named record", topic, branch.Type())
			}
			if _, ok := payloadTypes[named.FullName()]; !ok {
				return fmt.Errorf("%s: payload %s has no Go type in events.payloadTypes", topic, named.FullName())
			}
		}
		return nil
	}
	return fmt.Errorf("%s: schema has no payload field", topic)
}

func parseFile(fsys fs.FS, name string) (avro.Schema, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	// A fresh cache per file: every file must stand alone, and versions of one name may differ.
	s, err := avro.ParseBytesWithCache(b, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// Schema returns a topic's current schema.
func (c *Codec) Schema(topic string) (avro.Schema, bool) {
	ts, ok := c.topics[topic]
	if !ok {
		return nil, false
	}
	return ts.reader, true
}

// Encode writes e as a single-object datum of the topic's current schema.
func (c *Codec) Encode(topic string, e Envelope) ([]byte, error) {
	ts, ok := c.topics[topic]
	if !ok {
		return nil, fmt.Errorf("no schema for topic %q", topic)
	}
	body, err := avro.Marshal(ts.reader, e)
	if err != nil {
		return nil, fmt.Errorf("encode %s for %s: %w", e.Type, topic, err)
	}
	out := make([]byte, 0, len(ts.header)+len(body))
	return append(append(out, ts.header...), body...), nil
}

// Decode reads a single-object datum of topic, written with the current schema or an older one.
func (c *Codec) Decode(topic string, data []byte) (Envelope, error) {
	var e Envelope
	ts, ok := c.topics[topic]
	if !ok {
		return e, fmt.Errorf("%w: no schema for topic %q", ErrUndecodable, topic)
	}
	if len(data) < 10 || !bytes.Equal(data[:2], magic) {
		return e, fmt.Errorf("%w: missing single-object header", ErrUndecodable)
	}
	fp := string(data[2:10])
	writer, ok := ts.writers[fp]
	if !ok {
		return e, fmt.Errorf("%w: unknown schema fingerprint %x", ErrUndecodable, data[2:10])
	}
	schema := ts.reader
	if writer != ts.reader {
		var err error
		if schema, err = c.resolved(topic+fp, ts.reader, writer); err != nil {
			return e, fmt.Errorf("%w: %w", ErrUndecodable, err)
		}
	}
	if err := avro.Unmarshal(schema, data[10:], &e); err != nil {
		return e, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	return e, nil
}

func (c *Codec) resolved(key string, reader, writer avro.Schema) (avro.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.resolv[key]; ok {
		return s, nil
	}
	s, err := c.compat.Resolve(reader, writer)
	if err != nil {
		return nil, err
	}
	c.resolv[key] = s
	return s, nil
}
