// Package app holds the audit use cases: record an event once, list what was recorded.
package app

import (
	"context"
	"encoding/base64"
	"strconv"

	"github.com/acme/platform/services/audit/internal/domain/record"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
)

// Store keeps records.
type Store interface {
	// Append stores r unless a record with its event id exists; it reports whether it stored it.
	Append(ctx context.Context, r record.Record) (bool, error)
	List(ctx context.Context, f record.Filter) ([]record.Record, error)
}

// Service is the audit log.
type Service struct {
	Store Store
}

// RecordEvent turns an event of topic into a record and stores it once.
func (s Service) RecordEvent(ctx context.Context, topic string, e events.Envelope) (bool, error) {
	r := record.Record{EventID: e.EventID, Type: e.Type, OccurredAt: e.OccurredAt, Subject: e.Subject, Actor: e.Actor,
		Region: e.Region, Topic: topic, Details: map[string]string{}, Outcome: "success"}
	if d, ok := e.Payload.(events.AuditDetails); ok {
		r.Source, r.ResourceType, r.Outcome, r.Details = d.Source, d.ResourceType, d.Outcome, d.Details
	}
	if r.Source == "" {
		r.Source = topic
	}
	if err := r.Validate(); err != nil {
		return false, err
	}
	return s.Store.Append(ctx, r)
}

// Page is one page of records and the token of the next, "" at the end.
type Page struct {
	Records []record.Record
	Next    string
}

// MaxPageSize bounds one answer.
const MaxPageSize = 500

// List returns records oldest first.
func (s Service) List(ctx context.Context, subject, typ string, size int, token string) (Page, error) {
	if size < 0 || size > MaxPageSize {
		return Page{}, errs.Invalid("audit.page_size_invalid", "page_size", "page_size must be between 1 and 500")
	}
	if size == 0 {
		size = 100
	}
	var after int64
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err == nil {
			after, err = strconv.ParseInt(string(b), 10, 64)
		}
		if err != nil || after < 0 {
			return Page{}, errs.Invalid("audit.page_token_invalid", "page_token", "page_token is not one this service issued")
		}
	}
	recs, err := s.Store.List(ctx, record.Filter{Subject: subject, Type: typ, AfterSeq: after, Limit: size + 1})
	if err != nil {
		return Page{}, err
	}
	p := Page{Records: recs}
	if len(recs) > size {
		p.Records = recs[:size]
		p.Next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(recs[size-1].Seq, 10)))
	}
	return p, nil
}
