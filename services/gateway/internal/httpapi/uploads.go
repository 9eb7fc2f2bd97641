package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	filesv1 "github.com/acme/platform/contracts/gen/go/acme/files/v1"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/telemetry"
)

// Resumable uploads speak tus 1.0 (core and creation, termination): tusd's handler does the protocol,
// and its data store here is the files service, called through Dapr. The files service keeps the
// bytes with tusd's S3 store, checks who may write, scans a finished upload and stores it like any
// file. An upload's id is the id of the file it becomes.
//
//	POST   /v1/uploads        Upload-Length, Upload-Metadata: project_id, filename, filetype
//	HEAD   /v1/uploads/{id}   Upload-Offset, Upload-Length
//	PATCH  /v1/uploads/{id}   Upload-Offset; Content-Type: application/offset+octet-stream
//	DELETE /v1/uploads/{id}
const uploadsBase = "/v1/uploads/"

// newTus makes the tus handler over the files service.
func (a *API) newTus() (*handler.UnroutedHandler, error) {
	composer := handler.NewStoreComposer()
	store := tusStore{files: a.Files}
	composer.UseCore(store)
	composer.UseTerminater(store)
	return handler.NewUnroutedHandler(handler.Config{
		StoreComposer: composer, BasePath: uploadsBase, MaxSize: a.maxResumable(),
		DisableDownload: true, DisableConcatenation: true, Cors: &handler.CorsConfig{Disable: true},
		// tusd logs with x/exp/slog: its warnings and errors only (its request lines repeat the access log).
		Logger: expslog.New(expslog.NewJSONHandler(os.Stderr, &expslog.HandlerOptions{Level: expslog.LevelWarn})).
			With("service", "gateway", "component", "tusd"),
		// The last write answers what became of the file: clean, or infected (its bytes deleted).
		PreFinishResponseCallback: func(hook handler.HookEvent) (handler.HTTPResponse, error) {
			return handler.HTTPResponse{Header: handler.HTTPHeader{"Acme-File-Id": hook.Upload.ID,
				"Acme-File-State": hook.Upload.MetaData["state"]}}, nil
		},
	})
}

func (a *API) maxResumable() int64 {
	if a.MaxResumableBytes > 0 {
		return a.MaxResumableBytes
	}
	return 5 << 30
}

// tus serves one tus method as the authenticated caller: the request's context carries the caller
// (and the backend deadline: long for writes) to the files service. tusd's own refusals, plain text,
// become the gateway's error body.
func (a *API) tus(serve func(h *handler.UnroutedHandler) http.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.tusHandler == nil {
			fail(c, errs.Unavailable("uploads.unavailable", "resumable uploads are not available", nil))
			return
		}
		ctx, cancel := a.asCaller(c)
		defer cancel()
		w := &tusWriter{ResponseWriter: c.Writer}
		r := c.Request.WithContext(ctx)
		r.URL = &url.URL{Path: c.Param("id"), RawQuery: r.URL.RawQuery} // tusd reads the upload id as the whole path
		a.tusHandler.Middleware(serve(a.tusHandler)).ServeHTTP(w, r)
		if w.status != 0 {
			c.Writer.Header().Del("Content-Length")
			c.Writer.Header().Del("Content-Type")
			fail(c, tusRefusal(w.status, w.body.String()))
		}
	}
}

// tusWriter holds back tusd's plain-text error answers so that they can be sent as the error body.
type tusWriter struct {
	gin.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *tusWriter) WriteHeader(code int) {
	if code >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tusWriter) Write(b []byte) (int, error) {
	if w.status != 0 {
		return w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// tusCodes are the gateway's codes for tusd's refusals.
var tusCodes = map[string]string{
	"ERR_UNSUPPORTED_VERSION":   "uploads.version_unsupported",
	"ERR_MAX_SIZE_EXCEEDED":     "files.too_large",
	"ERR_UPLOAD_SIZE_EXCEEDED":  "files.too_large",
	"ERR_INVALID_CONTENT_TYPE":  "request.unsupported_media_type",
	"ERR_INVALID_UPLOAD_LENGTH": "uploads.length_invalid",
	"ERR_INVALID_OFFSET":        "uploads.offset_invalid",
	"ERR_UPLOAD_NOT_FOUND":      "uploads.not_found",
	"ERR_MISMATCHED_OFFSET":     "uploads.offset_mismatch",
	"ERR_NOT_IMPLEMENTED":       "uploads.not_supported",
	"ERR_UNEXPECTED_EOF":        "uploads.interrupted",
	"ERR_UPLOAD_INTERRUPTED":    "uploads.interrupted",
}

var tusKinds = map[int]errs.Kind{
	http.StatusBadRequest: errs.KindInvalid, http.StatusNotFound: errs.KindNotFound, http.StatusConflict: errs.KindConflict,
	http.StatusRequestEntityTooLarge: errs.KindTooLarge, http.StatusPreconditionFailed: errs.KindPrecondition,
	http.StatusForbidden: errs.KindPermissionDenied, http.StatusLocked: errs.KindConflict,
}

// tusRefusal is tusd's "ERR_CODE: message" answer as a domain error. A content type refusal is the
// platform's 415; an unimplemented extension (deferred length, concatenation) a 400.
func tusRefusal(status int, body string) error {
	name, msg, _ := strings.Cut(strings.TrimSpace(body), ": ")
	code, known := tusCodes[name]
	if !known {
		code = "uploads.rejected"
	}
	kind, ok := tusKinds[status]
	switch {
	case name == "ERR_INVALID_CONTENT_TYPE":
		kind, msg = errs.KindUnsupportedMedia, "a tus write is sent as application/offset+octet-stream"
	case status >= 500 || !ok:
		if status == http.StatusNotImplemented {
			kind = errs.KindInvalid
			break
		}
		return errs.Internal(errors.New(body))
	}
	return &errs.Error{Kind: kind, Code: code, Message: msg}
}

// tusError is a files service error as tusd answers it: the gateway's status and error body.
func tusError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		e = errs.FromStatus(err)
	}
	status := kindToHTTP[e.Kind]
	if status == 0 || status >= 500 {
		return err // tusd answers 500; the access log has the cause
	}
	body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, Field: e.Field, RequestID: telemetry.RequestID(ctx)}})
	return handler.Error{ErrorCode: e.Code, Message: e.Message, HTTPResponse: handler.HTTPResponse{StatusCode: status, Body: string(body),
		Header: handler.HTTPHeader{"Content-Type": "application/json; charset=utf-8"}}}
}

// tusStore is tusd's data store over the files service.
type tusStore struct{ files filesv1.FilesServiceClient }

func (s tusStore) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	if info.MetaData["project_id"] == "" {
		return nil, tusError(ctx, errs.Invalid("request.field_required", "project_id", "Upload-Metadata names the upload's project_id"))
	}
	resp, err := s.files.CreateUpload(ctx, &filesv1.CreateUploadRequest{ProjectId: info.MetaData["project_id"],
		Filename: info.MetaData["filename"], DeclaredType: info.MetaData["filetype"], Size: info.Size})
	if err != nil {
		return nil, tusError(ctx, err)
	}
	return &tusUpload{files: s.files, info: uploadInfo(resp.GetUpload())}, nil
}

func (s tusStore) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	resp, err := s.files.GetUpload(ctx, &filesv1.GetUploadRequest{UploadId: id})
	if err != nil {
		return nil, tusError(ctx, err)
	}
	return &tusUpload{files: s.files, info: uploadInfo(resp.GetUpload())}, nil
}

func (s tusStore) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return u.(*tusUpload)
}

func uploadInfo(u *filesv1.ResumableUpload) handler.FileInfo {
	f := u.GetFile()
	return handler.FileInfo{ID: u.GetId(), Size: u.GetSize(), Offset: u.GetOffset(),
		MetaData: handler.MetaData{"project_id": f.GetProjectId(), "filename": f.GetName(), "state": f.GetState()}}
}

type tusUpload struct {
	files filesv1.FilesServiceClient
	info  handler.FileInfo
}

func (u *tusUpload) GetInfo(context.Context) (handler.FileInfo, error) { return u.info, nil }

func (u *tusUpload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, handler.ErrNotImplemented // downloads are GET /v1/files/{id}, once scanned
}

// WriteChunk streams src to the files service in 64 KiB messages. When src breaks off (the client's
// connection), the bytes already sent are kept: that is what makes the upload resumable.
func (u *tusUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	stream, err := u.files.WriteUpload(ctx)
	if err != nil {
		return 0, tusError(ctx, err)
	}
	header := &filesv1.WriteUploadHeader{UploadId: u.info.ID, Offset: offset}
	sendErr := stream.Send(&filesv1.WriteUploadRequest{Part: &filesv1.WriteUploadRequest_Header{Header: header}})
	var readErr error
	buf := make([]byte, 64<<10)
	for sendErr == nil {
		n, err := src.Read(buf)
		if n > 0 {
			sendErr = stream.Send(&filesv1.WriteUploadRequest{Part: &filesv1.WriteUploadRequest_Chunk{Chunk: buf[:n]}})
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	resp, err := stream.CloseAndRecv() // after a failed send, the service's answer says why
	if err != nil {
		return 0, tusError(ctx, err)
	}
	u.info.Offset = resp.GetUpload().GetOffset()
	return u.info.Offset - offset, readErr
}

func (u *tusUpload) FinishUpload(ctx context.Context) error {
	resp, err := u.files.FinishUpload(ctx, &filesv1.FinishUploadRequest{UploadId: u.info.ID})
	if err != nil {
		return tusError(ctx, err)
	}
	u.info.MetaData["state"] = resp.GetUpload().GetFile().GetState()
	return nil
}

func (u *tusUpload) Terminate(ctx context.Context) error {
	_, err := u.files.DeleteFile(ctx, &filesv1.DeleteFileRequest{FileId: u.info.ID})
	return tusError(ctx, err)
}
