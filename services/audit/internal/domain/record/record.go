// Package record is the audit log's entry: who did what to which subject, when, with what outcome.
package record

import (
	"time"

	"github.com/acme/platform/services/platform/errs"
)

// Record is one audit entry.
type Record struct {
	EventID      string
	Type         string
	OccurredAt   time.Time
	Subject      string
	Actor        string
	Region       string
	Source       string
	ResourceType string
	Outcome      string
	Details      map[string]string
	Topic        string
	RecordedAt   time.Time
	Seq          int64
}

// Validate rejects entries that would make the log useless: no id, no type, no actor, no time.
func (r Record) Validate() error {
	switch {
	case r.EventID == "":
		return errs.Invalid("audit.event_id_required", "event_id", "event id is required")
	case r.Type == "":
		return errs.Invalid("audit.type_required", "type", "type is required")
	case r.Actor == "":
		return errs.Invalid("audit.actor_required", "actor", "actor is required")
	case r.OccurredAt.IsZero():
		return errs.Invalid("audit.time_required", "occurred_at", "occurred_at is required")
	}
	return nil
}

// Filter selects records; empty fields match everything.
type Filter struct {
	Subject  string
	Type     string
	Actor    string
	From, To time.Time // occurred_at in [From, To)
	AfterSeq int64
	Limit    int
}
