// Package app holds the projects use cases. Every mutation runs in one transaction that locks the
// project row, checks the caller's role, applies the change, bumps the version and writes the events.
package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/outbox"
	"github.com/acme/platform/services/projects/internal/domain/project"
)

// Store runs reads and transactions on projects.
type Store interface {
	InTx(ctx context.Context, fn func(Tx) error) error
	Get(ctx context.Context, id string) (project.Project, error)
	// GetAs is Get with userID's role in the project ("" when no member), in one round trip.
	GetAs(ctx context.Context, id, userID string) (project.Project, project.Role, error)
	Role(ctx context.Context, projectID, userID string) (project.Role, error)
	List(ctx context.Context, userID string, q ListQuery) ([]WithRole, error)
	Search(ctx context.Context, userID, query string, limit int) ([]WithRole, error)
	Members(ctx context.Context, projectID string) ([]project.Member, error)
	MembershipsOf(ctx context.Context, userID string) ([]Membership, error)
	// Scan returns up to limit projects with ids after afterID, in id order, with their members.
	Scan(ctx context.Context, afterID string, limit int) ([]Scanned, error)
}

// Scanned is a project with all its members.
type Scanned struct {
	Project project.Project
	Members []project.Member
}

// Tx is one transaction's view of the store.
type Tx interface {
	// Lock reads the project and holds it until the transaction ends.
	Lock(ctx context.Context, id string) (project.Project, error)
	Role(ctx context.Context, projectID, userID string) (project.Role, error)
	Owners(ctx context.Context, projectID string) ([]string, error)
	Members(ctx context.Context, projectID string) ([]project.Member, error)
	// SlugTaken reports whether owner has another project with slug.
	SlugTaken(ctx context.Context, ownerID, slug, exceptID string) (bool, error)
	// CountOwned counts ownerID's projects, after taking a per-owner lock held to the transaction's
	// end: two creates by one owner count one after the other, so a plan's limit holds under races.
	CountOwned(ctx context.Context, ownerID string) (int64, error)
	Insert(ctx context.Context, p project.Project) error
	Save(ctx context.Context, p project.Project) error
	Delete(ctx context.Context, id string) error
	PutMember(ctx context.Context, projectID string, m project.Member) error
	DeleteMember(ctx context.Context, projectID, userID string) error
	Publish(ctx context.Context, evs ...outbox.Event) error
}

// Users tells whether an account exists; projects asks users through Dapr service invocation.
type Users interface {
	Exists(ctx context.Context, userID string) (bool, error)
}

// Entitlements says whether an account's plan allows it to hold total of a meter (billing, asked
// through Dapr): nil when it does, a payment-required error when it does not.
type Entitlements interface {
	Allow(ctx context.Context, accountID, meter string, total int64) error
}

// SettingsValidator checks a settings document against the contract's JSON Schema.
type SettingsValidator interface {
	Validate(settings map[string]any) error
	// Secrets are the paths of the settings the schema marks writeOnly (credentials).
	Secrets() [][]string
}

// WithRole is a project and the caller's role in it.
type WithRole struct {
	Project project.Project
	Role    project.Role
}

// Service is the projects use cases.
type Service struct {
	Store    Store
	Users    Users
	Settings SettingsValidator
	// Billing enforces the plan's project limit on create; nil enforces none.
	Billing Entitlements
	Now     func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// CreateInput is a new project's fields.
type CreateInput struct {
	Name, Slug, Description, Visibility string
	Tags                                []string
	Settings                            map[string]any
}

// Create makes a project owned by the caller.
func (s *Service) Create(ctx context.Context, c caller.Caller, in CreateInput) (WithRole, error) {
	name, err := project.CheckName(in.Name)
	if err != nil {
		return WithRole{}, err
	}
	slug := in.Slug
	if slug == "" {
		slug = project.Slugify(name)
	}
	if err := project.CheckSlug(slug); err != nil {
		return WithRole{}, err
	}
	if err := project.CheckDescription(in.Description); err != nil {
		return WithRole{}, err
	}
	vis, err := project.ParseVisibility(in.Visibility)
	if err != nil {
		return WithRole{}, err
	}
	tags, err := project.NormalizeTags(in.Tags)
	if err != nil {
		return WithRole{}, err
	}
	settings := in.Settings
	if settings == nil {
		settings = map[string]any{}
	}
	if err := s.Settings.Validate(settings); err != nil {
		return WithRole{}, err
	}
	p, owner, evs := project.New(uuid.NewString(), c.UserID, project.Fields{Name: name, Slug: slug, Description: in.Description,
		Visibility: vis, Tags: tags, Settings: settings}, s.now())
	err = s.Store.InTx(ctx, func(tx Tx) error {
		if s.Billing != nil {
			owned, err := tx.CountOwned(ctx, c.UserID)
			if err != nil {
				return err
			}
			if err := s.Billing.Allow(ctx, c.UserID, "projects", owned+1); err != nil {
				return err
			}
		}
		if err := tx.Insert(ctx, p); err != nil {
			return err
		}
		if err := tx.PutMember(ctx, p.ID, owner); err != nil {
			return err
		}
		return tx.Publish(ctx, published(c, evs)...)
	})
	if err != nil {
		return WithRole{}, err
	}
	return WithRole{Project: p, Role: project.Owner}, nil
}

// Get returns a project the caller may see.
func (s *Service) Get(ctx context.Context, c caller.Caller, id string) (WithRole, error) {
	if err := checkID(id); err != nil {
		return WithRole{}, err
	}
	if c.IsSystem() { // a platform service reading settings (notifications: the Slack webhook)
		p, err := s.Store.Get(ctx, id)
		return WithRole{Project: p}, err
	}
	p, role, err := s.Store.GetAs(ctx, id, c.UserID)
	if err != nil {
		return WithRole{}, err
	}
	if err := project.Authorize(role, p.Visibility != project.Private, project.Read); err != nil {
		return WithRole{}, err
	}
	return s.shown(WithRole{Project: p, Role: role}), nil
}

// shown is the project as its reader may see it: credentials in the settings (writeOnly in the
// schema) only for editors and up, who may change them.
func (s *Service) shown(w WithRole) WithRole {
	if w.Role.AtLeast(project.Editor) {
		return w
	}
	w.Project.Settings = project.Redact(w.Project.Settings, s.Settings.Secrets())
	return w
}

func (s *Service) shownAll(ws []WithRole) []WithRole {
	for i := range ws {
		ws[i] = s.shown(ws[i])
	}
	return ws
}

func checkID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return errs.NotFound("project.not_found", "no such project")
	}
	return nil
}

// mutate locks the project, checks that the caller may do a, and runs fn, which applies the change
// through the domain and returns the events it caused. Archived projects accept nothing but restore
// and delete.
func (s *Service) mutate(ctx context.Context, c caller.Caller, id string, a project.Action, allowArchived bool,
	fn func(tx Tx, p *project.Project, role project.Role) ([]project.Event, error)) (WithRole, error) {
	if err := checkID(id); err != nil {
		return WithRole{}, err
	}
	var out WithRole
	err := s.Store.InTx(ctx, func(tx Tx) error {
		p, err := tx.Lock(ctx, id)
		if err != nil {
			return err
		}
		role, err := tx.Role(ctx, id, c.UserID)
		if err != nil {
			return err
		}
		if err := project.Authorize(role, p.Visibility != project.Private, a); err != nil {
			return err
		}
		if !allowArchived {
			if err := p.CheckWritable(); err != nil {
				return err
			}
		}
		evs, err := fn(tx, &p, role)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			out = WithRole{Project: p, Role: role}
			return nil
		}
		if p.ID != "" { // deleted projects are not saved
			if err := tx.Save(ctx, p); err != nil {
				return err
			}
		}
		out = WithRole{Project: p, Role: role}
		return tx.Publish(ctx, published(c, evs)...)
	})
	if err != nil {
		return WithRole{}, err
	}
	if r, err := s.Store.Role(ctx, id, c.UserID); err == nil && out.Project.ID != "" {
		out.Role = r
	}
	return out, nil
}

// UpdateInput is a partial update; nil fields stay as they are.
type UpdateInput struct {
	ExpectedVersion int64
	Name            *string
	Description     *string
	Visibility      *string
	Tags            *[]string
	Settings        map[string]any
}

// Update changes a project if the caller read its current version.
func (s *Service) Update(ctx context.Context, c caller.Caller, id string, in UpdateInput) (WithRole, error) {
	if in.ExpectedVersion <= 0 {
		return WithRole{}, errs.Invalid("project.version_required", "expected_version", "the version you read is required (If-Match)")
	}
	// Validate everything before taking the lock.
	var ch project.Changes
	if in.Name != nil {
		name, err := project.CheckName(*in.Name)
		if err != nil {
			return WithRole{}, err
		}
		ch.Name = &name
	}
	if in.Description != nil {
		if err := project.CheckDescription(*in.Description); err != nil {
			return WithRole{}, err
		}
		ch.Description = in.Description
	}
	if in.Visibility != nil {
		vis, err := project.ParseVisibility(*in.Visibility)
		if err != nil || *in.Visibility == "" {
			return WithRole{}, errs.Invalid("project.visibility_invalid", "visibility", "visibility must be private, internal or public")
		}
		ch.Visibility = &vis
	}
	if in.Tags != nil {
		tags, err := project.NormalizeTags(*in.Tags)
		if err != nil {
			return WithRole{}, err
		}
		ch.Tags = &tags
	}
	if in.Settings != nil {
		if err := s.Settings.Validate(in.Settings); err != nil {
			return WithRole{}, err
		}
		ch.Settings = in.Settings
	}
	return s.mutate(ctx, c, id, project.Edit, false, func(tx Tx, p *project.Project, _ project.Role) ([]project.Event, error) {
		return p.Update(in.ExpectedVersion, ch, s.now())
	})
}

// Archive makes a project read-only; Restore undoes it.
func (s *Service) Archive(ctx context.Context, c caller.Caller, id string, archived bool) (WithRole, error) {
	return s.mutate(ctx, c, id, project.Edit, true, func(tx Tx, p *project.Project, _ project.Role) ([]project.Event, error) {
		return p.Archive(archived, s.now())
	})
}

// Delete removes a project and its memberships; owners only.
func (s *Service) Delete(ctx context.Context, c caller.Caller, id string) error {
	_, err := s.mutate(ctx, c, id, project.Delete, true, func(tx Tx, p *project.Project, _ project.Role) ([]project.Event, error) {
		evs := p.Delete("", s.now())
		if err := tx.Delete(ctx, p.ID); err != nil {
			return nil, err
		}
		p.ID = ""
		return evs, nil
	})
	return err
}

const source = "projects"

// published is what the domain's events become on the wire: each one's event on
// acme.projects.events, and its audit record.
func published(c caller.Caller, evs []project.Event) []outbox.Event {
	out := make([]outbox.Event, 0, 2*len(evs))
	for _, e := range evs {
		p, at := e.Project, e.Project.UpdatedAt
		var payload any
		resource := "project"
		switch {
		case e.IsMemberEvent():
			payload, resource = events.MemberChanged{ProjectID: p.ID, UserID: e.Member.UserID, Role: string(e.Member.Role), ProjectName: p.Name}, "member"
		case e.Type == "project.created":
			payload = events.ProjectCreated{ProjectID: p.ID, OwnerID: p.OwnerID, Name: p.Name, Slug: p.Slug,
				Visibility: string(p.Visibility), Tags: p.Tags, Description: p.Description}
		case e.Type == "project.updated":
			payload = events.ProjectUpdated{ProjectID: p.ID, Name: p.Name, Visibility: string(p.Visibility), Tags: p.Tags, Description: p.Description}
		case e.Type == "project.archived", e.Type == "project.restored":
			payload = events.ProjectArchived{ProjectID: p.ID, Archived: p.Archived}
		case e.Type == "project.deleted":
			payload = events.ProjectDeleted{ProjectID: p.ID}
		default:
			panic("projects: no wire form for domain event " + e.Type)
		}
		out = append(out,
			outbox.Event{Topic: events.TopicProjects, Envelope: events.Envelope{EventID: uuid.NewString(), Type: e.Type,
				OccurredAt: at, Subject: p.ID, Actor: c.UserID, Region: region(c), AggregateVersion: p.Version, Payload: payload}},
			audit(e.Type, p.ID, c, at, resource, e.Details))
	}
	return out
}

func audit(typ, subject string, c caller.Caller, at time.Time, resource string, details map[string]string) outbox.Event {
	if details == nil {
		details = map[string]string{}
	}
	return outbox.Event{Topic: events.TopicAudit, Envelope: events.Envelope{EventID: uuid.NewString(), Type: typ,
		OccurredAt: at, Subject: subject, Actor: c.UserID, Region: region(c),
		Payload: events.AuditDetails{Source: source, ResourceType: resource, Outcome: "success", Details: details}}}
}

func region(c caller.Caller) string {
	if c.Region == "eu" {
		return "eu"
	}
	return "us"
}
