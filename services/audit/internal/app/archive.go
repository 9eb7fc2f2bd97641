package app

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/acme/platform/services/audit/internal/domain/record"
)

// Chained is a record with the hashes that chain it.
type Chained struct {
	record.Record
	PrevHash []byte
	Hash     []byte
}

// Batch is one archived run of the chain.
type Batch struct {
	FirstSeq, LastSeq int64
	Count             int
	FirstPrevHash     []byte
	LastHash          []byte
	Object, Manifest  string
	SHA256            []byte
}

// ArchiveStore reads what is not archived yet and records what was.
type ArchiveStore interface {
	Unarchived(ctx context.Context, limit int) ([]Chained, error)
	SaveBatch(ctx context.Context, b Batch) error
}

// ObjectStore writes objects (the Dapr S3 binding in production and locally).
type ObjectStore interface {
	Put(ctx context.Context, key string, data []byte, contentType string) error
}

// Archiver closes batches of the chain into gzip JSON Lines objects, each with a manifest holding
// the batch's first previous hash and last hash, so an archive can be verified on its own and
// against the batches before and after it.
type Archiver struct {
	Store      ArchiveStore
	Objects    ObjectStore
	MaxRecords int
	Log        *slog.Logger
	Now        func() time.Time
}

// ArchiveLine is one record in an archive object: its sequence number, its canonical form (the
// fields the hash covers, exactly as hashed) and the hashes in hex. A reader recomputes each hash as
// SHA-256(previous hash, canonical JSON of event_id..topic) and checks each line links to the one
// before.
type ArchiveLine struct {
	Seq int64 `json:"seq"`
	record.Canonical
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Manifest describes one archive object.
type Manifest struct {
	Object        string `json:"object"`
	FirstSeq      int64  `json:"first_seq"`
	LastSeq       int64  `json:"last_seq"`
	Count         int    `json:"count"`
	FirstPrevHash string `json:"first_prev_hash"`
	LastHash      string `json:"last_hash"`
	SHA256        string `json:"sha256"`
	CreatedAt     string `json:"created_at"`
}

// ArchiveOnce writes the next batch, if there is anything to archive.
func (a Archiver) ArchiveOnce(ctx context.Context) (*Batch, error) {
	recs, err := a.Store.Unarchived(ctx, a.MaxRecords)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	// Never archive a broken chain: an altered record would look settled once it sits in an archive.
	var v record.Verifier
	v.Resume(recs[0].PrevHash)
	for _, r := range recs {
		if b := v.Next(r.Record, r.PrevHash, r.Hash); b != nil {
			return nil, fmt.Errorf("not archiving: the chain is broken at seq %d: %s", b.Seq, b.Reason)
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	for _, r := range recs {
		line := ArchiveLine{Seq: r.Seq, Canonical: record.CanonicalOf(r.Record),
			PrevHash: hex.EncodeToString(r.PrevHash), Hash: hex.EncodeToString(r.Hash)}
		if err := enc.Encode(line); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	first, last := recs[0], recs[len(recs)-1]
	sum := sha256.Sum256(buf.Bytes())
	now := a.Now().UTC()
	b := Batch{FirstSeq: first.Seq, LastSeq: last.Seq, Count: len(recs), FirstPrevHash: first.PrevHash, LastHash: last.Hash, SHA256: sum[:],
		Object: fmt.Sprintf("audit/%s/batch-%012d-%012d.jsonl.gz", now.Format("2006/01/02"), first.Seq, last.Seq)}
	b.Manifest = b.Object + ".manifest.json"
	if err := a.Objects.Put(ctx, b.Object, buf.Bytes(), "application/gzip"); err != nil {
		return nil, err
	}
	manifest, _ := json.MarshalIndent(Manifest{Object: b.Object, FirstSeq: b.FirstSeq, LastSeq: b.LastSeq, Count: b.Count,
		FirstPrevHash: hex.EncodeToString(b.FirstPrevHash), LastHash: hex.EncodeToString(b.LastHash),
		SHA256: hex.EncodeToString(b.SHA256), CreatedAt: now.Format(time.RFC3339)}, "", "  ")
	if err := a.Objects.Put(ctx, b.Manifest, manifest, "application/json"); err != nil {
		return nil, err
	}
	// Recorded last: a crash before this writes the same batch again under the same keys.
	return &b, a.Store.SaveBatch(ctx, b)
}

// Run closes a batch every interval until ctx ends.
func (a Archiver) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			b, err := a.ArchiveOnce(ctx)
			if err != nil {
				a.Log.Warn("audit archive failed, will retry", "error", err)
				break
			}
			if b == nil {
				break
			}
			a.Log.Info("audit batch archived", "object", b.Object, "records", b.Count, "first_seq", b.FirstSeq, "last_seq", b.LastSeq)
			if b.Count < a.MaxRecords {
				break
			}
		}
	}
}
