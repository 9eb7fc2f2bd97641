package project

import (
	"time"

	"github.com/acme/platform/services/platform/errs"
)

// Event is a change to a project as the domain states it. Each behaviour below applies its change to
// the project and returns the events it caused; the app turns each into the event published on
// acme.projects.events and the audit record beside it, and persists what changed.
type Event struct {
	Type    string            // project.created, project.updated, project.archived, …, project.member_removed
	Project Project           // the project as this change left it: its Version and UpdatedAt are the event's
	Member  Member            // member events: who, and the role they now hold ("" once removed)
	Details map[string]string // what the audit record says beyond the type
}

// IsMemberEvent reports whether the event is about a membership rather than the project itself.
func (e Event) IsMemberEvent() bool { return e.Member.UserID != "" }

func (p *Project) event(typ string, details map[string]string) Event {
	return Event{Type: typ, Project: p.snapshot(), Details: details}
}

func (p *Project) memberEvent(typ, userID string, role Role) Event {
	return Event{Type: typ, Project: p.snapshot(), Member: Member{UserID: userID, Role: role},
		Details: map[string]string{"user_id": userID, "role": string(role)}}
}

// snapshot copies the project so later changes do not show through an earlier event.
func (p *Project) snapshot() Project {
	c := *p
	c.Tags = append([]string(nil), p.Tags...)
	return c
}

// Fields are a new project's checked fields.
type Fields struct {
	Name, Slug, Description string
	Visibility              Visibility
	Tags                    []string
	Settings                map[string]any
}

// New is a project owned by ownerID, at version 1, with its owner's membership.
func New(id, ownerID string, f Fields, now time.Time) (Project, Member, []Event) {
	if f.Settings == nil {
		f.Settings = map[string]any{}
	}
	p := Project{ID: id, OwnerID: ownerID, Name: f.Name, Slug: f.Slug, Description: f.Description, Visibility: f.Visibility,
		Tags: f.Tags, Settings: f.Settings, Version: 1, CreatedAt: now, UpdatedAt: now}
	return p, Member{UserID: ownerID, Role: Owner, AddedAt: now},
		[]Event{p.event("project.created", map[string]string{"name": p.Name, "slug": p.Slug})}
}

// Changes is a partial update of checked fields; nil ones stay as they are.
type Changes struct {
	Name        *string
	Description *string
	Visibility  *Visibility
	Tags        *[]string
	Settings    map[string]any
}

// Update applies changes made from version read (If-Match). Nothing that differs, nothing happens:
// no new version, no event.
func (p *Project) Update(read int64, ch Changes, now time.Time) ([]Event, error) {
	if err := p.CheckVersion(read); err != nil {
		return nil, err
	}
	changed := map[string]string{}
	if ch.Name != nil && *ch.Name != p.Name {
		p.Name, changed["name"] = *ch.Name, *ch.Name
	}
	if ch.Description != nil && *ch.Description != p.Description {
		p.Description, changed["description"] = *ch.Description, "changed"
	}
	if ch.Visibility != nil && *ch.Visibility != p.Visibility {
		p.Visibility, changed["visibility"] = *ch.Visibility, string(*ch.Visibility)
	}
	if ch.Tags != nil {
		p.Tags, changed["tags"] = *ch.Tags, "changed"
	}
	if ch.Settings != nil {
		p.Settings, changed["settings"] = ch.Settings, "changed"
	}
	if len(changed) == 0 {
		return nil, nil
	}
	p.Bump(now)
	return []Event{p.event("project.updated", changed)}, nil
}

// Archive archives (or, with false, restores) the project; doing what is already done is a conflict.
func (p *Project) Archive(archived bool, now time.Time) ([]Event, error) {
	if err := p.SetArchived(archived, now); err != nil {
		return nil, err
	}
	typ := "project.archived"
	if !archived {
		typ = "project.restored"
	}
	return []Event{p.event(typ, nil)}, nil
}

// Delete ends the project; reason, when given, is why the platform deleted it on its own.
func (p *Project) Delete(reason string, now time.Time) []Event {
	p.Bump(now)
	details := map[string]string{"name": p.Name}
	if reason != "" {
		details = map[string]string{"reason": reason}
	}
	return []Event{p.event("project.deleted", details)}
}

// AddMember gives userID a role; current is their role now ("" for none). Who may assign it is
// CanAssign's rule, checked with the actor's role before.
func (p *Project) AddMember(userID string, current, role Role, now time.Time) (Member, []Event, error) {
	if current != "" {
		return Member{}, nil, errMemberExists()
	}
	p.Bump(now)
	return Member{UserID: userID, Role: role, AddedAt: now}, []Event{p.memberEvent("project.member_added", userID, role)}, nil
}

// ChangeRole moves a member from current to role. owners are the project's owners now: the last one
// cannot stop being one. The same role again is no change and no event.
func (p *Project) ChangeRole(userID string, current, role Role, owners []string, now time.Time) ([]Event, error) {
	if current == "" {
		return nil, errNotMember()
	}
	if current == role {
		return nil, nil
	}
	if current == Owner {
		if err := KeepsAnOwner(owners, userID); err != nil {
			return nil, err
		}
	}
	p.Bump(now)
	return []Event{p.memberEvent("project.member_role_changed", userID, role)}, nil
}

// RemoveMember takes userID (holding current) out of the project; the last owner cannot leave.
func (p *Project) RemoveMember(userID string, current Role, owners []string, now time.Time) ([]Event, error) {
	if current == "" {
		return nil, errNotMember()
	}
	if current == Owner {
		if err := KeepsAnOwner(owners, userID); err != nil {
			return nil, err
		}
	}
	p.Bump(now)
	return []Event{p.memberEvent("project.member_removed", userID, "")}, nil
}

// Transfer makes member to (holding current) the owner and from, the owner until now, an admin.
func (p *Project) Transfer(from, to string, current Role, now time.Time) ([]Event, error) {
	if to == from {
		return nil, errTransferToSelf()
	}
	if current == "" {
		return nil, errNewOwnerNotMember()
	}
	var evs []Event
	if current != Owner {
		p.Bump(now)
		evs = append(evs, p.memberEvent("project.member_role_changed", to, Owner))
	}
	p.Bump(now)
	evs = append(evs, p.memberEvent("project.member_role_changed", from, Admin))
	p.OwnerID = to
	return evs, nil
}

// Erasure is what an erased user's leaving does to one project.
type Erasure struct {
	Deleted bool    // the user was its last member: the project goes
	Heir    *Member // the member who became owner because the user was the last one
	// OwnerChanged: the user was the recorded owner, now OwnerID names another owner (whose own
	// projects may already use this slug; the app checks).
	OwnerChanged bool
	Events       []Event
}

// Erase takes the erased user userID out of the project, given all its members. A project the user
// owned alone passes to Successor; a project left with no member is deleted. A user who is not a
// member changes nothing, so a redelivered user.erased is harmless.
func (p *Project) Erase(userID string, members []Member, now time.Time) (Erasure, bool) {
	var leaving *Member
	var others, owners []Member
	for i := range members {
		switch m := members[i]; {
		case m.UserID == userID:
			leaving = &members[i]
		case m.Role == Owner:
			owners = append(owners, m)
			others = append(others, m)
		default:
			others = append(others, m)
		}
	}
	if leaving == nil {
		return Erasure{}, false
	}
	if len(others) == 0 {
		return Erasure{Deleted: true, Events: p.Delete("last member erased", now)}, true
	}
	var e Erasure
	if leaving.Role == Owner && len(owners) == 0 {
		heir := Successor(others)
		heir.Role = Owner
		p.Bump(now)
		e.Heir = &heir
		e.Events = append(e.Events, p.memberEvent("project.member_role_changed", heir.UserID, Owner))
		owners = append(owners, heir)
	}
	if p.OwnerID == userID {
		p.OwnerID, e.OwnerChanged = owners[0].UserID, true
	}
	p.Bump(now)
	e.Events = append(e.Events, p.memberEvent("project.member_removed", userID, ""))
	return e, true
}

func errMemberExists() error {
	return errs.Conflict("member.exists", "the user is already a member; change their role instead")
}

func errNotMember() error {
	return errs.NotFound("member.not_found", "the user is not a member of this project")
}

func errTransferToSelf() error {
	return errs.Invalid("member.transfer_to_self", "new_owner_id", "you already own this project")
}

func errNewOwnerNotMember() error {
	return errs.NotFound("member.not_found", "the new owner must be a member of this project")
}
