// Package adapters holds what the search app reaches outside itself besides the index: the users,
// projects and files scan APIs, called through Dapr service invocation as system:search.
package adapters

import (
	"context"
	"strings"

	filesv1 "github.com/acme/platform/contracts/gen/go/acme/files/v1"
	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	usersv1 "github.com/acme/platform/contracts/gen/go/acme/users/v1"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/search/internal/index"
)

// Self is the caller the search service presents to the sources.
var Self = caller.Caller{UserID: caller.SystemPrefix + "search"}

// Sources reads users, projects and files through their gRPC scan APIs.
type Sources struct {
	UsersAPI    usersv1.UsersServiceClient
	ProjectsAPI projectsv1.ProjectsServiceClient
	FilesAPI    filesv1.FilesServiceClient
	PageSize    int32
}

// scan pages through one scan API as search: fetch reads the page after token and answers its
// documents and the next token ("" after the last page).
func scan(ctx context.Context, page func([]index.Document) error,
	fetch func(ctx context.Context, token string) ([]index.Document, string, error)) error {
	ctx = caller.Outgoing(ctx, Self)
	token := ""
	for {
		docs, next, err := fetch(ctx, token)
		if err != nil {
			return err
		}
		if err := page(docs); err != nil {
			return err
		}
		if token = next; token == "" {
			return nil
		}
	}
}

// Users pages through every account.
func (s Sources) Users(ctx context.Context, page func([]index.Document) error) error {
	return scan(ctx, page, func(ctx context.Context, token string) ([]index.Document, string, error) {
		resp, err := s.UsersAPI.ScanUsers(ctx, &usersv1.ScanUsersRequest{PageSize: s.PageSize, PageToken: token})
		if err != nil {
			return nil, "", err
		}
		docs := make([]index.Document, 0, len(resp.GetUsers()))
		for _, u := range resp.GetUsers() {
			at := u.GetCreatedAt().AsTime()
			docs = append(docs, index.Document{ID: u.GetId(), Type: index.TypeUser, Title: u.GetDisplayName(),
				Visibility: index.Internal, OwnerID: u.GetId(), CreatedAt: at, UpdatedAt: at, Version: u.GetVersion(), EventTime: at})
		}
		return docs, resp.GetNextPageToken(), nil
	})
}

var visibility = map[projectsv1.Visibility]string{projectsv1.Visibility_VISIBILITY_PRIVATE: index.Private,
	projectsv1.Visibility_VISIBILITY_INTERNAL: index.Internal, projectsv1.Visibility_VISIBILITY_PUBLIC: index.Public}

// Projects pages through every project with its members.
func (s Sources) Projects(ctx context.Context, page func([]index.Document) error) error {
	return scan(ctx, page, func(ctx context.Context, token string) ([]index.Document, string, error) {
		resp, err := s.ProjectsAPI.ScanProjects(ctx, &projectsv1.ScanProjectsRequest{PageSize: s.PageSize, PageToken: token})
		if err != nil {
			return nil, "", err
		}
		docs := make([]index.Document, 0, len(resp.GetProjects()))
		for _, sp := range resp.GetProjects() {
			p := sp.GetProject()
			d := index.Document{ID: p.GetId(), Type: index.TypeProject, Title: p.GetName(), Description: p.GetDescription(),
				Slug: p.GetSlug(), Tags: p.GetTags(), Visibility: visibility[p.GetVisibility()], OwnerID: p.GetOwnerId(),
				Archived: p.GetArchived(), CreatedAt: p.GetCreatedAt().AsTime(), UpdatedAt: p.GetUpdatedAt().AsTime(),
				Version: p.GetVersion(), EventTime: p.GetUpdatedAt().AsTime(), MemberVersions: map[string]int64{}}
			for _, m := range sp.GetMembers() {
				d.Members = append(d.Members, m.GetUserId())
				d.MemberVersions[m.GetUserId()] = p.GetVersion()
				if strings.HasSuffix(m.GetRole().String(), "OWNER") && d.OwnerID == "" {
					d.OwnerID = m.GetUserId()
				}
			}
			docs = append(docs, d)
		}
		return docs, resp.GetNextPageToken(), nil
	})
}

// Files pages through every clean file (without its project's access or version: the app sets those).
func (s Sources) Files(ctx context.Context, page func([]index.Document) error) error {
	return scan(ctx, page, func(ctx context.Context, token string) ([]index.Document, string, error) {
		resp, err := s.FilesAPI.ScanFiles(ctx, &filesv1.ScanFilesRequest{PageSize: s.PageSize, PageToken: token})
		if err != nil {
			return nil, "", err
		}
		docs := make([]index.Document, 0, len(resp.GetFiles()))
		for _, f := range resp.GetFiles() {
			at := f.GetCreatedAt().AsTime()
			docs = append(docs, index.Document{ID: f.GetId(), Type: index.TypeFile, Title: f.GetName(), ProjectID: f.GetProjectId(),
				ContentType: f.GetContentType(), OwnerID: f.GetOwnerId(), CreatedAt: at, UpdatedAt: at, EventTime: at})
		}
		return docs, resp.GetNextPageToken(), nil
	})
}
