// Package adapters connects notifications to Dapr: the email output binding, claims in the state
// store, and the users service through service invocation.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/notifications/internal/app"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/daprstate"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/roles"
)

// EmailBinding sends mail through a Dapr output binding named Binding (bindings.smtp or
// bindings.aws.ses); the address and subject travel as request metadata.
type EmailBinding struct {
	Client  dapr.Client
	Binding string
}

// Send sends one email. The body travels as a Go-quoted string: bindings.aws.ses unquotes it and
// refuses anything else ("Can't unquote data field"); bindings.smtp unquotes it when it can.
func (b EmailBinding) Send(ctx context.Context, e app.Email) error {
	_, err := b.Client.InvokeBinding(ctx, &dapr.InvokeBindingRequest{Name: b.Binding, Operation: "create", Data: []byte(strconv.Quote(e.HTML)),
		Metadata: map[string]string{"emailTo": e.To, "subject": e.Subject}})
	if err != nil {
		return fmt.Errorf("send email through %s: %w", b.Binding, err)
	}
	return nil
}

// StateClaims keeps claims in the Dapr state store: a first-write save of a fresh key succeeds once.
type StateClaims struct {
	Client dapr.Client
	Store  string
}

func claimKey(id string) string { return "notified:" + id }

// Claim records that id is being handled; false when it was before.
func (c StateClaims) Claim(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	err := daprstate.New[string](c.Client, c.Store).Create(ctx, claimKey(id), "claimed", ttl)
	if errors.Is(err, daprstate.ErrConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", id, err)
	}
	return true, nil
}

// Release forgets a claim, so a retry handles the event. The key is removed outright (no
// tombstone): a released claim must be claimable again.
func (c StateClaims) Release(ctx context.Context, id string) error {
	return c.Client.DeleteState(ctx, c.Store, claimKey(id), nil)
}

// UsersDirectory asks users for an addressee through Dapr service invocation.
type UsersDirectory struct {
	Client usersv1.UsersServiceClient
}

// Contact returns the user's email and display name.
func (u UsersDirectory) Contact(ctx context.Context, userID string) (string, string, error) {
	resp, err := u.Client.GetUser(ctx, &usersv1.GetUserRequest{UserId: userID})
	if status.Code(err) == codes.NotFound {
		return "", "", errs.NotFound("user.not_found", "no such user")
	}
	if err != nil {
		return "", "", errs.Unavailable("users.unavailable", "the users service cannot be reached", err)
	}
	return resp.GetUser().GetEmail(), resp.GetUser().GetDisplayName(), nil
}

// MailToken asks users for a mail's token, as the platform (notifications).
func (u UsersDirectory) MailToken(ctx context.Context, userID, purpose string) (string, error) {
	resp, err := u.Client.IssueMailToken(caller.Outgoing(ctx, caller.Caller{UserID: "system:notifications"}),
		&usersv1.IssueMailTokenRequest{UserId: userID, Purpose: purpose})
	if err != nil {
		e := errs.FromStatus(err)
		if e.Kind == errs.KindInternal || e.Kind == errs.KindUnavailable {
			return "", errs.Unavailable("users.unavailable", "the users service cannot be reached", err)
		}
		return "", e
	}
	return resp.GetToken(), nil
}

// StatePreferences keeps each user's choices in the Dapr state store, one key per user.
type StatePreferences struct {
	Client dapr.Client
	Store  string
}

func prefsKey(userID string) string { return "preferences:" + userID }

func (p StatePreferences) prefs() daprstate.Store[map[string]bool] {
	return daprstate.New[map[string]bool](p.Client, p.Store)
}

func prefsUnavailable(err error) error {
	return errs.Unavailable("preferences.unavailable", "the preference store is unavailable", err)
}

// Get returns the user's stored choices (none stored: an empty map).
func (p StatePreferences) Get(ctx context.Context, userID string) (map[string]bool, error) {
	out, _, _, err := p.prefs().Get(ctx, prefsKey(userID))
	if err != nil {
		return nil, prefsUnavailable(err)
	}
	if out == nil {
		out = map[string]bool{}
	}
	return out, nil
}

// Put replaces the user's choices.
func (p StatePreferences) Put(ctx context.Context, userID string, prefs map[string]bool) error {
	if _, err := p.prefs().Update(ctx, prefsKey(userID), 0, func(v *map[string]bool, _ bool) error { *v = prefs; return nil }); err != nil {
		return prefsUnavailable(err)
	}
	return nil
}

// Delete forgets the user's choices (on user.erased).
func (p StatePreferences) Delete(ctx context.Context, userID string) error {
	return p.prefs().Delete(ctx, prefsKey(userID))
}

// ProjectsDirectory asks projects, through Dapr service invocation, for a caller's role and for a
// project's Slack settings.
type ProjectsDirectory struct {
	Client projectsv1.ProjectsServiceClient
}

// Role is the caller's role; projects answers NotFound to a caller who may not see the project.
func (p ProjectsDirectory) Role(ctx context.Context, c caller.Caller, projectID string) (string, error) {
	resp, err := p.Client.GetProject(caller.Outgoing(ctx, c), &projectsv1.GetProjectRequest{ProjectId: projectID})
	if err != nil {
		return "", errs.FromStatus(err)
	}
	return roles.Name(resp.GetProject().GetCallerRole()), nil
}

// system is how notifications presents itself to projects.
var system = caller.Caller{UserID: caller.SystemPrefix + "notifications"}

// SlackURL reads settings.notifications: the Slack incoming webhook when slack is true.
func (p ProjectsDirectory) SlackURL(ctx context.Context, projectID string) (string, error) {
	resp, err := p.Client.GetProject(caller.Outgoing(ctx, system), &projectsv1.GetProjectRequest{ProjectId: projectID})
	if status.Code(err) == codes.NotFound {
		return "", nil // deleted since
	}
	if err != nil {
		return "", errs.Unavailable("projects.unavailable", "the projects service cannot be reached", err)
	}
	n, _ := resp.GetProject().GetSettings().AsMap()["notifications"].(map[string]any)
	if on, _ := n["slack"].(bool); !on {
		return "", nil
	}
	u, _ := n["slack_webhook_url"].(string)
	return u, nil
}
