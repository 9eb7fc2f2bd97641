// Package ports serves the files contract (acme.files.v1) over gRPC and consumes user and project
// events.
package ports

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"google.golang.org/protobuf/types/known/timestamppb"

	filesv1 "github.com/acme/platform/contracts/gen/go/acme/files/v1"
	"github.com/acme/platform/services/files/internal/app"
	"github.com/acme/platform/services/files/internal/domain/file"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
)

// GRPC adapts the app to the generated server interface.
type GRPC struct {
	filesv1.UnimplementedFilesServiceServer
	App *app.Service
}

func fileProto(f file.File) *filesv1.File {
	return &filesv1.File{Id: f.ID, ProjectId: f.ProjectID, OwnerId: f.OwnerID, Name: f.Name, SizeBytes: f.Size, Sha256: f.SHA256,
		ContentType: f.ContentType, DeclaredType: f.DeclaredType, State: f.State, HasThumbnail: f.ThumbKey != "",
		CreatedAt: timestamppb.New(f.CreatedAt)}
}

// chunked is a client stream of messages that carry chunks after their header.
type chunked[M interface{ GetChunk() []byte }] interface{ Recv() (M, error) }

// chunks reads a stream's chunks as one io.Reader.
type chunks[M interface{ GetChunk() []byte }] struct {
	stream chunked[M]
	rest   []byte
}

func (c *chunks[M]) Read(p []byte) (int, error) {
	for len(c.rest) == 0 {
		m, err := c.stream.Recv()
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		c.rest = m.GetChunk()
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

// Upload takes the header, then streams the chunks into the app.
func (g GRPC) Upload(stream filesv1.FilesService_UploadServer) error {
	ctx := stream.Context()
	c, err := caller.From(ctx)
	if err != nil {
		return errs.ToStatus(err).Err()
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return errs.ToStatus(errs.Invalid("files.header_missing", "", "an upload starts with its header")).Err()
	}
	f, err := g.App.Upload(ctx, c, app.Upload{ProjectID: h.GetProjectId(), Filename: h.GetFilename(), DeclaredType: h.GetDeclaredType(),
		DeclaredSize: h.GetDeclaredSize(), MaxSize: h.GetMaxSize(), Body: &chunks[*filesv1.UploadRequest]{stream: stream}})
	if err != nil {
		if e := errs.As(err); e.Kind == errs.KindInternal || e.Kind == errs.KindUnavailable {
			g.App.Log.ErrorContext(ctx, "upload failed", "code", e.Code, "error", err)
		}
		return errs.ToStatus(err).Err()
	}
	return stream.SendAndClose(&filesv1.UploadResponse{File: fileProto(f)})
}

func (g GRPC) GetFile(ctx context.Context, in *filesv1.GetFileRequest) (*filesv1.GetFileResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	f, err := g.App.Get(ctx, c, in.GetFileId())
	if err != nil {
		return nil, err
	}
	return &filesv1.GetFileResponse{File: fileProto(f)}, nil
}

func (g GRPC) DownloadLink(ctx context.Context, in *filesv1.DownloadLinkRequest) (*filesv1.DownloadLinkResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	l, err := g.App.DownloadLink(ctx, c, in.GetFileId(), in.GetThumbnail())
	if err != nil {
		return nil, err
	}
	return &filesv1.DownloadLinkResponse{Url: l.URL, ExpiresAt: timestamppb.New(l.ExpiresAt), ContentDisposition: l.Disposition,
		ContentType: l.ContentType}, nil
}

func (g GRPC) ListFiles(ctx context.Context, in *filesv1.ListFilesRequest) (*filesv1.ListFilesResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	fs, next, err := g.App.List(ctx, c, in.GetProjectId(), int(in.GetPageSize()), in.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &filesv1.ListFilesResponse{NextPageToken: next}
	for _, f := range fs {
		out.Files = append(out.Files, fileProto(f))
	}
	return out, nil
}

func (g GRPC) ScanFiles(ctx context.Context, in *filesv1.ScanFilesRequest) (*filesv1.ScanFilesResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	fs, next, err := g.App.Scan(ctx, c, in.GetPageToken(), int(in.GetPageSize()))
	if err != nil {
		return nil, err
	}
	out := &filesv1.ScanFilesResponse{NextPageToken: next}
	for _, f := range fs {
		out.Files = append(out.Files, fileProto(f))
	}
	return out, nil
}

func (g GRPC) DeleteFile(ctx context.Context, in *filesv1.DeleteFileRequest) (*filesv1.DeleteFileResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	if err := g.App.Delete(ctx, c, in.GetFileId()); err != nil {
		return nil, err
	}
	return &filesv1.DeleteFileResponse{}, nil
}

func uploadProto(p app.Progress) *filesv1.ResumableUpload {
	return &filesv1.ResumableUpload{Id: p.File.ID, Size: p.File.Size, Offset: p.Offset, File: fileProto(p.File)}
}

func (g GRPC) CreateUpload(ctx context.Context, in *filesv1.CreateUploadRequest) (*filesv1.CreateUploadResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	p, err := g.App.CreateUpload(ctx, c, app.Upload{ProjectID: in.GetProjectId(), Filename: in.GetFilename(),
		DeclaredType: in.GetDeclaredType(), DeclaredSize: in.GetSize()})
	if err != nil {
		return nil, err
	}
	return &filesv1.CreateUploadResponse{Upload: uploadProto(p)}, nil
}

func (g GRPC) GetUpload(ctx context.Context, in *filesv1.GetUploadRequest) (*filesv1.GetUploadResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	p, err := g.App.GetUpload(ctx, c, in.GetUploadId())
	if err != nil {
		return nil, err
	}
	return &filesv1.GetUploadResponse{Upload: uploadProto(p)}, nil
}

// WriteUpload takes the header, then streams the chunks into the upload.
func (g GRPC) WriteUpload(stream filesv1.FilesService_WriteUploadServer) error {
	ctx := stream.Context()
	c, err := caller.From(ctx)
	if err != nil {
		return errs.ToStatus(err).Err()
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return errs.ToStatus(errs.Invalid("files.header_missing", "", "a write starts with its header")).Err()
	}
	p, err := g.App.WriteUpload(ctx, c, h.GetUploadId(), h.GetOffset(), &chunks[*filesv1.WriteUploadRequest]{stream: stream})
	if err != nil {
		if e := errs.As(err); e.Kind == errs.KindInternal || e.Kind == errs.KindUnavailable {
			g.App.Log.ErrorContext(ctx, "upload write failed", "code", e.Code, "error", err)
		}
		return errs.ToStatus(err).Err()
	}
	return stream.SendAndClose(&filesv1.WriteUploadResponse{Upload: uploadProto(p)})
}

func (g GRPC) FinishUpload(ctx context.Context, in *filesv1.FinishUploadRequest) (*filesv1.FinishUploadResponse, error) {
	c, err := caller.From(ctx)
	if err != nil {
		return nil, err
	}
	p, err := g.App.FinishUpload(ctx, c, in.GetUploadId())
	if err != nil {
		return nil, err
	}
	return &filesv1.FinishUploadResponse{Upload: uploadProto(p)}, nil
}

// Events removes files on user.erased (what the user uploaded) and project.deleted (the project's).
type Events struct {
	App *app.Service
	Log *slog.Logger
}

// Handle takes one decoded event of acme.users.events or acme.projects.events.
func (h Events) Handle(ctx context.Context, _ string, e events.Envelope) error {
	var n int
	var err error
	switch p := e.Payload.(type) {
	case events.UserErased:
		n, err = h.App.EraseOwner(ctx, p.UserID)
	case events.ProjectDeleted:
		n, err = h.App.RemoveProject(ctx, p.ProjectID)
	case events.MemberChanged:
		if e.Type != "project.member_role_changed" || p.Role != "owner" {
			return nil
		}
		moved, err := h.App.OwnerChanged(ctx, p.ProjectID, p.UserID)
		if err == nil && moved > 0 {
			h.Log.InfoContext(ctx, "files now count in the new owner's storage", "project_id", p.ProjectID, "files", moved)
		}
		return err
	default:
		return nil
	}
	if err != nil {
		return err
	}
	if n > 0 {
		h.Log.InfoContext(ctx, "files removed", "event", e.Type, "subject", e.Subject, "files", n)
	}
	return nil
}
