package adapters

import (
	"context"

	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/roles"
)

// Projects asks projects, through Dapr as the caller, for the caller's role in a project.
type Projects struct {
	Client projectsv1.ProjectsServiceClient
}

// Access is the caller's role and the project's owner; projects answers not found for a project
// the caller may not see.
func (p Projects) Access(ctx context.Context, c caller.Caller, projectID string) (string, string, error) {
	resp, err := p.Client.GetProject(caller.Outgoing(ctx, c), &projectsv1.GetProjectRequest{ProjectId: projectID})
	if err != nil {
		e := errs.FromStatus(err)
		if e.Kind == errs.KindInternal || e.Kind == errs.KindUnavailable {
			return "", "", errs.Unavailable("projects.unavailable", "the projects service cannot be reached", err)
		}
		return "", "", e
	}
	return roles.Name(resp.GetProject().GetCallerRole()), resp.GetProject().GetOwnerId(), nil
}
