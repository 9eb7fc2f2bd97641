// Package ports serves the projects contract (acme.projects.v1) over gRPC.
package ports

import (
	"context"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/roles"
	"github.com/acme/platform/services/projects/internal/app"
	"github.com/acme/platform/services/projects/internal/domain/project"
)

// GRPC adapts the app to the generated server interface.
type GRPC struct {
	projectsv1.UnimplementedProjectsServiceServer
	App *app.Service
}

var visToProto = map[project.Visibility]projectsv1.Visibility{
	project.Private: projectsv1.Visibility_VISIBILITY_PRIVATE, project.Internal: projectsv1.Visibility_VISIBILITY_INTERNAL,
	project.Public: projectsv1.Visibility_VISIBILITY_PUBLIC,
}

// roleToProto is a domain role in the contract's enum (the names are the same: platform/roles).
func roleToProto(r project.Role) projectsv1.Role {
	p, _ := roles.Proto(string(r))
	return p
}

func visFromProto(v projectsv1.Visibility) string {
	for k, p := range visToProto {
		if p == v {
			return string(k)
		}
	}
	return ""
}

func roleFromProto(r projectsv1.Role) string { return roles.Name(r) }

func toProto(w app.WithRole) (*projectsv1.Project, error) {
	p := w.Project
	settings, err := structpb.NewStruct(p.Settings)
	if err != nil {
		return nil, errs.Internal(err)
	}
	return &projectsv1.Project{Id: p.ID, OwnerId: p.OwnerID, Name: p.Name, Slug: p.Slug, Description: p.Description,
		Visibility: visToProto[p.Visibility], Tags: p.Tags, Settings: settings, Archived: p.Archived, Version: p.Version,
		CreatedAt: timestamppb.New(p.CreatedAt), UpdatedAt: timestamppb.New(p.UpdatedAt), CallerRole: roleToProto(w.Role)}, nil
}

func memberToProto(m project.Member) *projectsv1.Member {
	out := &projectsv1.Member{UserId: m.UserID, Role: roleToProto(m.Role)}
	if !m.AddedAt.IsZero() {
		out.AddedAt = timestamppb.New(m.AddedAt)
	}
	return out
}

func (g GRPC) CreateProject(ctx context.Context, in *projectsv1.CreateProjectRequest) (*projectsv1.CreateProjectResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	w, err := g.App.Create(ctx, c, app.CreateInput{Name: in.GetName(), Slug: in.GetSlug(), Description: in.GetDescription(),
		Visibility: visFromProto(in.GetVisibility()), Tags: in.GetTags(), Settings: in.GetSettings().AsMap()})
	if err != nil {
		return nil, err
	}
	p, err := toProto(w)
	return &projectsv1.CreateProjectResponse{Project: p}, err
}

func (g GRPC) GetProject(ctx context.Context, in *projectsv1.GetProjectRequest) (*projectsv1.GetProjectResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	w, err := g.App.Get(ctx, c, in.GetProjectId())
	if err != nil {
		return nil, err
	}
	p, err := toProto(w)
	return &projectsv1.GetProjectResponse{Project: p}, err
}

func (g GRPC) UpdateProject(ctx context.Context, in *projectsv1.UpdateProjectRequest) (*projectsv1.UpdateProjectResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	u := app.UpdateInput{ExpectedVersion: in.GetExpectedVersion(), Name: in.Name, Description: in.Description}
	if in.GetVisibility() != projectsv1.Visibility_VISIBILITY_UNSPECIFIED {
		v := visFromProto(in.GetVisibility())
		u.Visibility = &v
	}
	if in.GetSetTags() {
		tags := in.GetTags()
		u.Tags = &tags
	}
	if in.Settings != nil {
		u.Settings = in.GetSettings().AsMap()
	}
	w, err := g.App.Update(ctx, c, in.GetProjectId(), u)
	if err != nil {
		return nil, err
	}
	p, err := toProto(w)
	return &projectsv1.UpdateProjectResponse{Project: p}, err
}

func (g GRPC) ArchiveProject(ctx context.Context, in *projectsv1.ArchiveProjectRequest) (*projectsv1.ArchiveProjectResponse, error) {
	p, err := g.archive(ctx, in.GetProjectId(), true)
	return &projectsv1.ArchiveProjectResponse{Project: p}, err
}

func (g GRPC) RestoreProject(ctx context.Context, in *projectsv1.RestoreProjectRequest) (*projectsv1.RestoreProjectResponse, error) {
	p, err := g.archive(ctx, in.GetProjectId(), false)
	return &projectsv1.RestoreProjectResponse{Project: p}, err
}

func (g GRPC) archive(ctx context.Context, id string, archived bool) (*projectsv1.Project, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	w, err := g.App.Archive(ctx, c, id, archived)
	if err != nil {
		return nil, err
	}
	return toProto(w)
}

func (g GRPC) DeleteProject(ctx context.Context, in *projectsv1.DeleteProjectRequest) (*projectsv1.DeleteProjectResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	return &projectsv1.DeleteProjectResponse{}, g.App.Delete(ctx, c, in.GetProjectId())
}

func (g GRPC) ListProjects(ctx context.Context, in *projectsv1.ListProjectsRequest) (*projectsv1.ListProjectsResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := g.App.List(ctx, c, int(in.GetPageSize()), in.GetPageToken(), in.GetSort(), in.GetOrder(), in.GetIncludeArchived())
	if err != nil {
		return nil, err
	}
	out := &projectsv1.ListProjectsResponse{NextPageToken: next}
	for _, w := range rows {
		p, err := toProto(w)
		if err != nil {
			return nil, err
		}
		out.Projects = append(out.Projects, p)
	}
	return out, nil
}

func (g GRPC) SearchProjects(ctx context.Context, in *projectsv1.SearchProjectsRequest) (*projectsv1.SearchProjectsResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := g.App.Search(ctx, c, in.GetQuery(), int(in.GetPageSize()))
	if err != nil {
		return nil, err
	}
	out := &projectsv1.SearchProjectsResponse{}
	for _, w := range rows {
		p, err := toProto(w)
		if err != nil {
			return nil, err
		}
		out.Projects = append(out.Projects, p)
	}
	return out, nil
}

func (g GRPC) ListMembers(ctx context.Context, in *projectsv1.ListMembersRequest) (*projectsv1.ListMembersResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := g.App.Members(ctx, c, in.GetProjectId())
	if err != nil {
		return nil, err
	}
	out := &projectsv1.ListMembersResponse{}
	for _, m := range ms {
		out.Members = append(out.Members, memberToProto(m))
	}
	return out, nil
}

func (g GRPC) AddMember(ctx context.Context, in *projectsv1.AddMemberRequest) (*projectsv1.AddMemberResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	m, err := g.App.AddMember(ctx, c, in.GetProjectId(), in.GetUserId(), roleFromProto(in.GetRole()))
	if err != nil {
		return nil, err
	}
	return &projectsv1.AddMemberResponse{Member: memberToProto(m)}, nil
}

func (g GRPC) UpdateMember(ctx context.Context, in *projectsv1.UpdateMemberRequest) (*projectsv1.UpdateMemberResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	m, err := g.App.UpdateMember(ctx, c, in.GetProjectId(), in.GetUserId(), roleFromProto(in.GetRole()))
	if err != nil {
		return nil, err
	}
	return &projectsv1.UpdateMemberResponse{Member: memberToProto(m)}, nil
}

func (g GRPC) RemoveMember(ctx context.Context, in *projectsv1.RemoveMemberRequest) (*projectsv1.RemoveMemberResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	return &projectsv1.RemoveMemberResponse{}, g.App.RemoveMember(ctx, c, in.GetProjectId(), in.GetUserId())
}

func (g GRPC) TransferOwnership(ctx context.Context, in *projectsv1.TransferOwnershipRequest) (*projectsv1.TransferOwnershipResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	w, err := g.App.TransferOwnership(ctx, c, in.GetProjectId(), in.GetNewOwnerId())
	if err != nil {
		return nil, err
	}
	p, err := toProto(w)
	return &projectsv1.TransferOwnershipResponse{Project: p}, err
}

func (g GRPC) ScanProjects(ctx context.Context, in *projectsv1.ScanProjectsRequest) (*projectsv1.ScanProjectsResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := g.App.Scan(ctx, c, in.GetPageToken(), int(in.GetPageSize()))
	if err != nil {
		return nil, err
	}
	out := &projectsv1.ScanProjectsResponse{NextPageToken: next}
	for _, r := range rows {
		p, err := toProto(app.WithRole{Project: r.Project})
		if err != nil {
			return nil, err
		}
		sp := &projectsv1.ScannedProject{Project: p}
		for _, m := range r.Members {
			sp.Members = append(sp.Members, memberToProto(m))
		}
		out.Projects = append(out.Projects, sp)
	}
	return out, nil
}
