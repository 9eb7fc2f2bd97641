package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"google.golang.org/protobuf/types/known/structpb"

	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/roles"
)

// Project is the public view of a project, with the caller's role in it.
type Project struct {
	ID          string         `json:"id"`
	OwnerID     string         `json:"owner_id"`
	Name        string         `json:"name"`
	Slug        string         `json:"slug"`
	Description string         `json:"description"`
	Visibility  string         `json:"visibility"`
	Tags        []string       `json:"tags"`
	Settings    map[string]any `json:"settings"`
	Archived    bool           `json:"archived"`
	Version     int64          `json:"version"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
	Role        string         `json:"role,omitempty"`
}

// Member is the public view of a membership.
type Member struct {
	UserID  string    `json:"user_id"`
	Role    string    `json:"role"`
	AddedAt time.Time `json:"added_at,omitzero"`
}

var (
	visibilities = map[string]projectsv1.Visibility{"private": projectsv1.Visibility_VISIBILITY_PRIVATE,
		"internal": projectsv1.Visibility_VISIBILITY_INTERNAL, "public": projectsv1.Visibility_VISIBILITY_PUBLIC}
)

func nameOf[V comparable](m map[string]V, v V) string {
	for k, x := range m {
		if x == v {
			return k
		}
	}
	return ""
}

func projectView(p *projectsv1.Project) Project {
	tags := p.GetTags()
	if tags == nil {
		tags = []string{}
	}
	settings := p.GetSettings().AsMap()
	return Project{ID: p.GetId(), OwnerID: p.GetOwnerId(), Name: p.GetName(), Slug: p.GetSlug(), Description: p.GetDescription(),
		Visibility: nameOf(visibilities, p.GetVisibility()), Tags: tags, Settings: settings, Archived: p.GetArchived(),
		Version: p.GetVersion(), CreatedAt: p.GetCreatedAt().AsTime().UTC(), UpdatedAt: p.GetUpdatedAt().AsTime().UTC(),
		Role: roles.Name(p.GetCallerRole())}
}

func memberView(m *projectsv1.Member) Member {
	v := Member{UserID: m.GetUserId(), Role: roles.Name(m.GetRole())}
	if m.GetAddedAt() != nil {
		v.AddedAt = m.GetAddedAt().AsTime().UTC()
	}
	return v
}

// asCaller returns a backend context carrying the authenticated caller.
func (a *API) asCaller(c *gin.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := a.backend(c)
	id := identity(c)
	return caller.Outgoing(ctx, caller.Caller{UserID: id.GetUserId(), Roles: id.GetRoles(), Region: regionName(id.GetRegion()),
		SessionID: id.GetSessionId()}), cancel
}

func etag(p *projectsv1.Project) string { return fmt.Sprintf(`"%d"`, p.GetVersion()) }

// projectAnswer is a project with its version as the ETag.
func projectAnswer(status int, p *projectsv1.Project) answer {
	return answer{status: status, body: gin.H{"project": projectView(p)}, header: map[string]string{"ETag": etag(p)}}
}

// isUUID reports whether s is a UUID in its canonical 36-character form, in either case. Every
// request naming a resource asks, so it is a loop rather than a regular expression (make bench).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

type createProjectRequest struct {
	Name        *string         `json:"name"`
	Slug        *string         `json:"slug"`
	Description *string         `json:"description"`
	Visibility  *string         `json:"visibility"`
	Tags        *[]string       `json:"tags"`
	Settings    *map[string]any `json:"settings"`
}

func checkVisibility(v *string) (projectsv1.Visibility, error) {
	if v == nil {
		return projectsv1.Visibility_VISIBILITY_UNSPECIFIED, nil
	}
	vis, ok := visibilities[*v]
	if !ok {
		return 0, errs.Invalid("project.visibility_invalid", "visibility", "visibility must be private, internal or public")
	}
	return vis, nil
}

func settingsStruct(s *map[string]any) (*structpb.Struct, error) {
	if s == nil {
		return nil, nil
	}
	st, err := structpb.NewStruct(*s)
	if err != nil {
		return nil, errs.Invalid("project.settings_invalid", "settings", "settings must be a JSON object")
	}
	return st, nil
}

func optional(v *string) string {
	if v == nil {
		return ""
	}
	return *v
}

func (a *API) createProject(c *gin.Context, ctx context.Context) (answer, error) {
	var req createProjectRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	vis, err := checkVisibility(req.Visibility)
	if err != nil {
		return answer{}, err
	}
	settings, err := settingsStruct(req.Settings)
	if err != nil {
		return answer{}, err
	}
	in := &projectsv1.CreateProjectRequest{Name: *req.Name, Slug: optional(req.Slug), Description: optional(req.Description),
		Visibility: vis, Settings: settings}
	if req.Tags != nil {
		in.Tags = *req.Tags
	}
	resp, err := a.Projects.CreateProject(ctx, in)
	if err != nil {
		return answer{}, err
	}
	c.Header("Location", "/v1/projects/"+resp.GetProject().GetId())
	return projectAnswer(http.StatusCreated, resp.GetProject()), nil
}

func (a *API) getProject(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Projects.GetProject(ctx, &projectsv1.GetProjectRequest{ProjectId: id})
	if err != nil {
		return answer{}, err
	}
	return projectAnswer(http.StatusOK, resp.GetProject()), nil
}

var ifMatchPattern = regexp.MustCompile(`^"([0-9]{1,18})"$`)

type updateProjectRequest struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Visibility  *string         `json:"visibility"`
	Tags        *[]string       `json:"tags"`
	Settings    *map[string]any `json:"settings"`
}

func (a *API) updateProject(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	var req updateProjectRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	ifMatch := c.GetHeader("If-Match")
	if ifMatch == "" {
		return answer{}, &errs.Error{Kind: errs.KindPreconditionRequired, Code: "project.if_match_required",
			Message: "send If-Match with the ETag you read, so concurrent edits cannot overwrite each other"}
	}
	m := ifMatchPattern.FindStringSubmatch(ifMatch)
	if m == nil {
		return answer{}, errs.Invalid("request.if_match_invalid", "If-Match", `If-Match must be an ETag of this API, such as "3"`)
	}
	version, _ := strconv.ParseInt(m[1], 10, 64)
	vis, err := checkVisibility(req.Visibility)
	if err != nil {
		return answer{}, err
	}
	settings, err := settingsStruct(req.Settings)
	if err != nil {
		return answer{}, err
	}
	in := &projectsv1.UpdateProjectRequest{ProjectId: id, ExpectedVersion: version, Name: req.Name, Description: req.Description,
		Visibility: vis, Settings: settings}
	if req.Tags != nil {
		in.Tags, in.SetTags = *req.Tags, true
	}
	resp, err := a.Projects.UpdateProject(ctx, in)
	if err != nil {
		return answer{}, err
	}
	return projectAnswer(http.StatusOK, resp.GetProject()), nil
}

func (a *API) deleteProject(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	if _, err := a.Projects.DeleteProject(ctx, &projectsv1.DeleteProjectRequest{ProjectId: id}); err != nil {
		return answer{}, err
	}
	return noContent(), nil
}

func (a *API) archiveProject(archived bool) func(*gin.Context, context.Context) (answer, error) {
	return func(c *gin.Context, ctx context.Context) (answer, error) {
		id, err := uuidParam(c, "id", "project.not_found")
		if err != nil {
			return answer{}, err
		}
		var p *projectsv1.Project
		if archived {
			var r *projectsv1.ArchiveProjectResponse
			r, err = a.Projects.ArchiveProject(ctx, &projectsv1.ArchiveProjectRequest{ProjectId: id})
			p = r.GetProject()
		} else {
			var r *projectsv1.RestoreProjectResponse
			r, err = a.Projects.RestoreProject(ctx, &projectsv1.RestoreProjectRequest{ProjectId: id})
			p = r.GetProject()
		}
		if err != nil {
			return answer{}, err
		}
		return projectAnswer(http.StatusOK, p), nil
	}
}

type transferRequest struct {
	NewOwnerID *string `json:"new_owner_id"`
}

func (a *API) transferProject(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	var req transferRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	resp, err := a.Projects.TransferOwnership(ctx, &projectsv1.TransferOwnershipRequest{ProjectId: id, NewOwnerId: *req.NewOwnerID})
	if err != nil {
		return answer{}, err
	}
	return projectAnswer(http.StatusOK, resp.GetProject()), nil
}

func (a *API) listProjects(c *gin.Context, ctx context.Context) (answer, error) {
	archived, _ := queryBool(c, "include_archived")
	resp, err := a.Projects.ListProjects(ctx, &projectsv1.ListProjectsRequest{PageSize: int32(queryInt(c, "page_size")), PageToken: c.Query("page_token"),
		Sort: c.Query("sort"), Order: c.Query("order"), IncludeArchived: archived})
	if err != nil {
		return answer{}, err
	}
	out := []Project{}
	for _, p := range resp.GetProjects() {
		out = append(out, projectView(p))
	}
	body := gin.H{"projects": out}
	if next := resp.GetNextPageToken(); next != "" {
		body["next_page_token"] = next
	}
	return okWith(body), nil
}

func (a *API) searchProjects(c *gin.Context, ctx context.Context) (answer, error) {
	resp, err := a.Projects.SearchProjects(ctx, &projectsv1.SearchProjectsRequest{Query: c.Query("q"), PageSize: int32(queryInt(c, "page_size"))})
	if err != nil {
		return answer{}, err
	}
	out := []Project{}
	for _, p := range resp.GetProjects() {
		out = append(out, projectView(p))
	}
	return okWith(gin.H{"projects": out}), nil
}

func (a *API) listMembers(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Projects.ListMembers(ctx, &projectsv1.ListMembersRequest{ProjectId: id})
	if err != nil {
		return answer{}, err
	}
	out := []Member{}
	for _, m := range resp.GetMembers() {
		out = append(out, memberView(m))
	}
	return okWith(gin.H{"members": out}), nil
}

type memberRequest struct {
	UserID *string `json:"user_id"`
	Role   *string `json:"role"`
}

func checkRole(r *string) (projectsv1.Role, error) {
	role, ok := roles.Proto(*r)
	if !ok {
		return 0, errs.Invalid("member.role_invalid", "role", "role must be owner, admin, editor or viewer")
	}
	return role, nil
}

func (a *API) addMember(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	var req memberRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	role, err := checkRole(req.Role)
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Projects.AddMember(ctx, &projectsv1.AddMemberRequest{ProjectId: id, UserId: *req.UserID, Role: role})
	if err != nil {
		return answer{}, err
	}
	return respond(http.StatusCreated, gin.H{"member": memberView(resp.GetMember())}), nil
}

type roleRequest struct {
	Role *string `json:"role"`
}

// memberPath reads the project and user ids of /v1/projects/{id}/members/{user_id}.
func memberPath(c *gin.Context) (string, string, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return "", "", err
	}
	userID, err := uuidParam(c, "user_id", "member.not_found")
	return id, userID, err
}

func (a *API) updateMember(c *gin.Context, ctx context.Context) (answer, error) {
	id, userID, err := memberPath(c)
	if err != nil {
		return answer{}, err
	}
	var req roleRequest
	if err := decodeJSON(c, &req); err != nil {
		return answer{}, err
	}
	role, err := checkRole(req.Role)
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Projects.UpdateMember(ctx, &projectsv1.UpdateMemberRequest{ProjectId: id, UserId: userID, Role: role})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"member": memberView(resp.GetMember())}), nil
}

func (a *API) removeMember(c *gin.Context, ctx context.Context) (answer, error) {
	id, userID, err := memberPath(c)
	if err != nil {
		return answer{}, err
	}
	if _, err := a.Projects.RemoveMember(ctx, &projectsv1.RemoveMemberRequest{ProjectId: id, UserId: userID}); err != nil {
		return answer{}, err
	}
	return noContent(), nil
}
