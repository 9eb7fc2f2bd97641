package record

import (
	"crypto/sha256"
	"encoding/json"
	"time"
)

// Canonical is the form a record's hash covers: every field that says what happened, in a fixed
// order, times in UTC at the database's microsecond precision. details is a map, which
// encoding/json writes with sorted keys. Archives write it as it is, so a reader can recompute the
// hash from a line.
type Canonical struct {
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
}

// CanonicalOf returns r's canonical form.
func CanonicalOf(r Record) Canonical {
	details := r.Details
	if details == nil {
		details = map[string]string{}
	}
	return Canonical{EventID: r.EventID, Type: r.Type,
		OccurredAt: r.OccurredAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), Subject: r.Subject,
		Actor: r.Actor, Region: r.Region, Source: r.Source, ResourceType: r.ResourceType, Outcome: r.Outcome,
		Details: details, Topic: r.Topic}
}

// Hash chains r to the record before it: SHA-256 over the previous hash and r's canonical form.
func Hash(prev []byte, r Record) []byte {
	b, _ := json.Marshal(CanonicalOf(r))
	h := sha256.New()
	h.Write(prev)
	h.Write(b)
	return h.Sum(nil)
}

// Break is the first record where the chain does not hold, and why.
type Break struct {
	Seq     int64
	EventID string
	Reason  string
}

// Verifier walks records in order and finds the first break.
type Verifier struct {
	prev    []byte
	checked int64
}

// Next checks one record, given in seq order, with the hashes stored beside it.
func (v *Verifier) Next(r Record, prevHash, hash []byte) *Break {
	v.checked++
	if string(prevHash) != string(v.prev) {
		return &Break{Seq: r.Seq, EventID: r.EventID, Reason: "the previous record is not the one this record was chained to (a record was removed or reordered)"}
	}
	if string(Hash(prevHash, r)) != string(hash) {
		return &Break{Seq: r.Seq, EventID: r.EventID, Reason: "the record's content does not match its hash (it was altered)"}
	}
	v.prev = hash
	return nil
}

// Resume starts the walk after a record whose hash is prev (for a run that does not begin at the
// first record).
func (v *Verifier) Resume(prev []byte) { v.prev = prev }

// Checked is how many records were checked.
func (v *Verifier) Checked() int64 { return v.checked }
