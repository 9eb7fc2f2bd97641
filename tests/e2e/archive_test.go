package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// getObject reads an object through the audit sidecar's objectstore binding (Dapr's HTTP API).
func getObject(t *testing.T, key string) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"operation": "get", "metadata": map[string]string{"key": key, "encodeBase64": "true"}})
	req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/v1.0/bindings/objectstore", env.topo.App("audit").HTTPPort),
		bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("dapr-api-token", env.topo.App("audit").APIToken) // the sidecar's API asks for it
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get %s: %d %s", key, resp.StatusCode, b)
	}
	data, err := base64.StdEncoding.DecodeString(strings.Trim(string(b), `"`))
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return data
}

type archiveLine struct {
	Seq          int64             `json:"seq"`
	EventID      string            `json:"event_id"`
	Type         string            `json:"type"`
	OccurredAt   string            `json:"occurred_at"`
	Subject      string            `json:"subject"`
	Actor        string            `json:"actor"`
	Region       string            `json:"region"`
	Source       string            `json:"source"`
	ResourceType string            `json:"resource_type"`
	Outcome      string            `json:"outcome"`
	Details      map[string]string `json:"details"`
	Topic        string            `json:"topic"`
	PrevHash     string            `json:"prev_hash"`
	Hash         string            `json:"hash"`
}

// lineHash is this test's own reading of the archive format: SHA-256 over the previous hash and
// the JSON object of the fields event_id..topic, in that order.
func lineHash(prev []byte, l archiveLine) []byte {
	fields := []struct {
		k string
		v any
	}{{"event_id", l.EventID}, {"type", l.Type}, {"occurred_at", l.OccurredAt}, {"subject", l.Subject}, {"actor", l.Actor},
		{"region", l.Region}, {"source", l.Source}, {"resource_type", l.ResourceType}, {"outcome", l.Outcome},
		{"details", l.Details}, {"topic", l.Topic}}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		v, _ := json.Marshal(f.v)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	h := sha256.New()
	h.Write(prev)
	h.Write(b.Bytes())
	return h.Sum(nil)
}

// Audit closes batches of its chain into gzip JSON Lines objects in S3 (through the Dapr binding,
// versitygw here), each with a manifest; one read back verifies on its own.
func TestAudit_ArchiveInS3ReadsBackAndVerifies(t *testing.T) {
	u := registerUser(t, "archive")
	auditRecords(t, url.Values{"subject": {u.ID}}, func(rs []auditRecord) bool { return len(rs) >= 2 })
	ctx := context.Background()
	db, err := pgx.Connect(ctx, env.auditDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var object, manifestKey string
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := db.QueryRow(ctx, `SELECT a.object_key, a.manifest_key FROM audit_archives a JOIN audit_records r
			ON r.seq BETWEEN a.first_seq AND a.last_seq WHERE r.subject = $1 LIMIT 1`, u.ID).Scan(&object, &manifestKey)
		if err == nil {
			break
		}
		if err != pgx.ErrNoRows || time.Now().After(deadline) {
			t.Fatalf("no archive batch holds the registration after 15 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	var m struct {
		Object        string `json:"object"`
		FirstSeq      int64  `json:"first_seq"`
		LastSeq       int64  `json:"last_seq"`
		Count         int    `json:"count"`
		FirstPrevHash string `json:"first_prev_hash"`
		LastHash      string `json:"last_hash"`
		SHA256        string `json:"sha256"`
	}
	if err := json.Unmarshal(getObject(t, manifestKey), &m); err != nil {
		t.Fatal(err)
	}
	data := getObject(t, object)
	sum := sha256.Sum256(data)
	if m.Object != object || hex.EncodeToString(sum[:]) != m.SHA256 {
		t.Fatalf("manifest %+v does not describe %s (sha256 %x)", m, object, sum)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	prev, _ := hex.DecodeString(m.FirstPrevHash)
	var lines []archiveLine
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l archiveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.PrevHash != hex.EncodeToString(prev) {
			t.Fatalf("line seq %d does not link to the line before", l.Seq)
		}
		if got := hex.EncodeToString(lineHash(prev, l)); got != l.Hash {
			t.Fatalf("line seq %d: hash %s, recomputed %s", l.Seq, l.Hash, got)
		}
		prev, _ = hex.DecodeString(l.Hash)
		lines = append(lines, l)
	}
	found := false
	for _, l := range lines {
		found = found || l.Subject == u.ID
	}
	if len(lines) != m.Count || lines[0].Seq != m.FirstSeq || lines[len(lines)-1].Seq != m.LastSeq ||
		lines[len(lines)-1].Hash != m.LastHash || !found {
		t.Fatalf("archive of %d lines against manifest %+v (registration found: %v)", len(lines), m, found)
	}
}
