// Package app holds the audit use cases: record each event once in the hash chain, and let platform
// admins query and verify it.
package app

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/acme/platform/services/audit/internal/domain/record"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
)

// Store keeps the chain.
type Store interface {
	// Append stores r unless a record with its event id exists; it reports whether it stored it.
	Append(ctx context.Context, r record.Record) (bool, error)
	List(ctx context.Context, f record.Filter) ([]record.Record, error)
	// Walk calls fn with every record in chain order and the hashes stored beside it; an error
	// from fn stops the walk and is returned.
	Walk(ctx context.Context, fn func(r record.Record, prevHash, hash []byte) error) error
	// ChainUnchained gives every record stored before the chain existed its hashes, in order,
	// computing each with chain from the hash before it; it returns how many.
	ChainUnchained(ctx context.Context, chain func(prev []byte, r record.Record) []byte) (int, error)
}

// Service is the audit log.
type Service struct {
	Store Store
}

// Domain topics are recorded by what happened, not what it carried: no email, token or name from a
// payload is copied into the log.
var domainSources = map[string][2]string{
	events.TopicUsers:    {"users", "user"},
	events.TopicProjects: {"projects", "project"},
	events.TopicBilling:  {"billing", "billing_account"},
}

// RecordEvent turns an event of topic into a record and stores it once.
func (s Service) RecordEvent(ctx context.Context, topic string, e events.Envelope) (bool, error) {
	r := record.Record{EventID: e.EventID, Type: e.Type, OccurredAt: e.OccurredAt, Subject: e.Subject, Actor: e.Actor,
		Region: e.Region, Topic: topic, Details: map[string]string{}, Outcome: "success"}
	if d, ok := e.Payload.(events.AuditDetails); ok {
		r.Source, r.ResourceType, r.Outcome, r.Details = d.Source, d.ResourceType, d.Outcome, d.Details
	} else if src, ok := domainSources[topic]; ok {
		r.Source, r.ResourceType = src[0], src[1]
	}
	if r.Source == "" {
		r.Source = topic
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	return s.Store.Append(ctx, r)
}

func adminOnly(c caller.Caller) error {
	if !c.IsAdmin() {
		return errs.PermissionDenied("audit.admin_only", "the audit log is for platform admins")
	}
	return nil
}

// Page is one page of records and the token of the next, "" at the end.
type Page struct {
	Records []record.Record
	Next    string
}

// MaxPageSize bounds one answer.
const MaxPageSize = 500

// Query filters a listing.
type Query struct {
	Subject, Type, Actor string
	From, To             time.Time
	Size                 int
	Token                string
}

// List returns records oldest first; platform admins only.
func (s Service) List(ctx context.Context, c caller.Caller, q Query) (Page, error) {
	if err := adminOnly(c); err != nil {
		return Page{}, err
	}
	if q.Size < 0 || q.Size > MaxPageSize {
		return Page{}, errs.Invalid("audit.page_size_invalid", "page_size", "page_size must be between 1 and 500")
	}
	if q.Size == 0 {
		q.Size = 100
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return Page{}, errs.Invalid("audit.time_range_invalid", "from", "from must be before to")
	}
	var after int64
	if q.Token != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Token)
		if err == nil {
			after, err = strconv.ParseInt(string(b), 10, 64)
		}
		if err != nil || after < 0 {
			return Page{}, errs.Invalid("audit.page_token_invalid", "page_token", "page_token is not one this service issued")
		}
	}
	recs, err := s.Store.List(ctx, record.Filter{Subject: q.Subject, Type: q.Type, Actor: q.Actor, From: q.From, To: q.To,
		AfterSeq: after, Limit: q.Size + 1})
	if err != nil {
		return Page{}, err
	}
	p := Page{Records: recs}
	if len(recs) > q.Size {
		p.Records = recs[:q.Size]
		p.Next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(recs[q.Size-1].Seq, 10)))
	}
	return p, nil
}

// Verify walks the chain and returns the first break (nil when it is intact) and how many records
// it checked; platform admins only.
func (s Service) Verify(ctx context.Context, c caller.Caller) (*record.Break, int64, error) {
	if err := adminOnly(c); err != nil {
		return nil, 0, err
	}
	var v record.Verifier
	var found *record.Break
	err := s.Store.Walk(ctx, func(r record.Record, prev, hash []byte) error {
		if found = v.Next(r, prev, hash); found != nil {
			return errStopWalk
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return nil, v.Checked(), err
	}
	return found, v.Checked(), nil
}

var errStopWalk = errors.New("stop")

// Backfill chains the records stored before the chain existed (the first version of the service
// wrote none), by the domain's rule; it returns how many.
func (s Service) Backfill(ctx context.Context) (int, error) {
	return s.Store.ChainUnchained(ctx, record.Hash)
}
