package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	filesv1 "github.com/acme/platform/contracts/gen/go/acme/files/v1"
	"github.com/acme/platform/services/platform/errs"
)

// File is a file's metadata as clients see it.
type File struct {
	ID           string    `json:"id"`
	ProjectID    string    `json:"project_id"`
	OwnerID      string    `json:"owner_id"`
	Name         string    `json:"name"`
	SizeBytes    int64     `json:"size_bytes"`
	SHA256       string    `json:"sha256"`
	ContentType  string    `json:"content_type"`
	DeclaredType string    `json:"declared_type,omitempty"`
	State        string    `json:"state"`
	HasThumbnail bool      `json:"has_thumbnail"`
	CreatedAt    time.Time `json:"created_at"`
}

func fileView(f *filesv1.File) File {
	return File{ID: f.GetId(), ProjectID: f.GetProjectId(), OwnerID: f.GetOwnerId(), Name: f.GetName(), SizeBytes: f.GetSizeBytes(),
		SHA256: f.GetSha256(), ContentType: f.GetContentType(), DeclaredType: f.GetDeclaredType(), State: f.GetState(),
		HasThumbnail: f.GetHasThumbnail(), CreatedAt: f.GetCreatedAt().AsTime().UTC()}
}

const uploadPath = "/v1/projects/:id/files"

// isUpload reports whether the request is a file upload or a resumable upload's write, which stream
// past the JSON body limit (the files service bounds them) and get the upload deadline.
func isUpload(c *gin.Context) bool {
	return (c.Request.Method == http.MethodPost && c.FullPath() == uploadPath) ||
		(c.Request.Method == http.MethodPatch && c.FullPath() == "/v1/uploads/:id")
}

func (a *API) uploadTimeout() time.Duration {
	if a.UploadTimeout > 0 {
		return a.UploadTimeout
	}
	return 10 * time.Minute
}

func (a *API) maxUpload() int64 {
	if a.MaxUploadBytes > 0 {
		return a.MaxUploadBytes
	}
	return 100 << 20
}

// multipartSlack is what a multipart body may carry beyond the file: boundaries and part headers.
const multipartSlack = 64 << 10

func errUploadTooLarge(limit int64) error {
	return &errs.Error{Kind: errs.KindTooLarge, Code: "files.too_large", Field: "file",
		Message: "an upload is at most " + strconv.FormatInt(limit>>20, 10) + " MiB"}
}

// uploadFile streams a multipart/form-data upload's "file" part to the files service in chunks: the
// gateway holds one chunk at a time, whatever the file's size. A request whose length announces more
// than the limit is refused before its body is read.
func (a *API) uploadFile(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	if c.Request.ContentLength > a.maxUpload()+multipartSlack {
		c.Header("Connection", "close") // the body is not read
		return answer{}, errUploadTooLarge(a.maxUpload())
	}
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "multipart/form-data" {
		return answer{}, &errs.Error{Kind: errs.KindUnsupportedMedia, Code: "request.unsupported_media_type",
			Message: "upload a file as multipart/form-data, in a part named file"}
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, a.maxUpload()+multipartSlack)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return answer{}, errs.Invalid("files.multipart_invalid", "", "the body is not readable multipart/form-data")
	}
	for i := 0; ; i++ {
		p, err := mr.NextPart()
		if err != nil || i > 8 {
			return answer{}, errs.Invalid("request.field_required", "file", `the upload has no part named "file"`)
		}
		if p.FormName() == "file" {
			defer p.Close()
			declared := p.Header.Get("Content-Type")
			stream, err := a.Files.Upload(ctx)
			if err != nil {
				return answer{}, err
			}
			header := &filesv1.UploadHeader{ProjectId: id, Filename: p.FileName(), DeclaredType: declared, DeclaredSize: c.Request.ContentLength,
				MaxSize: a.maxUpload()}
			if err := stream.Send(&filesv1.UploadRequest{Part: &filesv1.UploadRequest_Header{Header: header}}); err != nil {
				return a.uploadAnswer(stream, err)
			}
			buf := make([]byte, 64<<10)
			var sent int64
			for {
				n, rerr := p.Read(buf)
				if n > 0 {
					if err := stream.Send(&filesv1.UploadRequest{Part: &filesv1.UploadRequest_Chunk{Chunk: buf[:n]}}); err != nil {
						return a.uploadAnswer(stream, err) // the service stopped reading: its answer says why
					}
					if sent += int64(n); sent > a.maxUpload() {
						// More than the header's max_size went through: files refuses, and answers once
						// the partial upload is gone, so the 413 leaves nothing behind.
						return a.uploadAnswer(stream, nil)
					}
				}
				if errors.Is(rerr, io.EOF) {
					break
				}
				if rerr != nil {
					if isTooLarge(rerr) {
						return answer{}, errUploadTooLarge(a.maxUpload())
					}
					return answer{}, errs.Invalid("files.multipart_invalid", "file", "the upload ended early")
				}
			}
			return a.uploadAnswer(stream, nil)
		}
		p.Close()
	}
}

func (a *API) uploadAnswer(stream filesv1.FilesService_UploadClient, sendErr error) (answer, error) {
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return answer{}, err
	}
	if sendErr != nil && !errors.Is(sendErr, io.EOF) {
		return answer{}, sendErr
	}
	f := resp.GetFile()
	return createdAt("/v1/files/"+f.GetId()+"/metadata", gin.H{"file": fileView(f)}), nil
}

func (a *API) listFiles(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "project.not_found")
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Files.ListFiles(ctx, &filesv1.ListFilesRequest{ProjectId: id, PageSize: int32(queryInt(c, "page_size")),
		PageToken: c.Query("page_token")})
	if err != nil {
		return answer{}, err
	}
	out := []File{}
	for _, f := range resp.GetFiles() {
		out = append(out, fileView(f))
	}
	body := gin.H{"files": out}
	if next := resp.GetNextPageToken(); next != "" {
		body["next_page_token"] = next
	}
	return okWith(body), nil
}

func (a *API) getFile(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "files.not_found")
	if err != nil {
		return answer{}, err
	}
	resp, err := a.Files.GetFile(ctx, &filesv1.GetFileRequest{FileId: id})
	if err != nil {
		return answer{}, err
	}
	return okWith(gin.H{"file": fileView(resp.GetFile())}), nil
}

// downloadFile answers a redirect to a short-lived signed link, after the files service checked the
// caller may see the file and that it is clean. The link's response carries the disposition
// (attachment for anything but raster images, with the name encoded) and the sniffed type.
func (a *API) downloadFile(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "files.not_found")
	if err != nil {
		return answer{}, err
	}
	thumb, _ := queryBool(c, "thumbnail")
	resp, err := a.Files.DownloadLink(ctx, &filesv1.DownloadLinkRequest{FileId: id, Thumbnail: thumb})
	if err != nil {
		return answer{}, err
	}
	return answer{status: http.StatusFound, header: map[string]string{"Location": resp.GetUrl(), "Cache-Control": "private, no-store",
		"X-Content-Type-Options": "nosniff", "Content-Disposition": resp.GetContentDisposition()}}, nil
}

func (a *API) deleteFile(c *gin.Context, ctx context.Context) (answer, error) {
	id, err := uuidParam(c, "id", "files.not_found")
	if err != nil {
		return answer{}, err
	}
	if _, err := a.Files.DeleteFile(ctx, &filesv1.DeleteFileRequest{FileId: id}); err != nil {
		return answer{}, err
	}
	return noContent(), nil
}
