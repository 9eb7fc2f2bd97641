package app

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/acme/platform/services/files/internal/domain/file"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/jobs"
	"github.com/acme/platform/services/platform/server"
)

// Uploads keeps resumable uploads (tusd's S3 store): bytes arrive in pieces at known offsets and
// become the object quarantine/<file id> when finished.
type Uploads interface {
	// Create starts an upload of fileID of size bytes; the answer is its id in the store.
	Create(ctx context.Context, fileID string, size int64) (uploadID string, err error)
	// Offset is how many bytes are stored.
	Offset(ctx context.Context, uploadID string) (int64, error)
	// Write stores r at offset and answers how many bytes it stored.
	Write(ctx context.Context, uploadID string, offset int64, r io.Reader) (int64, error)
	// Finish makes the stored bytes the object key; finishing again is no error.
	Finish(ctx context.Context, uploadID, key string) error
	// Forget removes what the store keeps beside a finished upload's object.
	Forget(ctx context.Context, uploadID string) error
	// Abort removes an unfinished upload and all it stored.
	Abort(ctx context.Context, uploadID string) error
}

// Progress is where a resumable upload stands.
type Progress struct {
	File   file.File
	Offset int64
}

// CreateUpload starts a resumable upload of a known length: the same checks as a synchronous upload
// (an editor of the project, the upload limit, the plan's storage for the whole length, reserved from
// now on), then an empty upload in quarantine.
func (s *Service) CreateUpload(ctx context.Context, c caller.Caller, in Upload) (Progress, error) {
	if err := checkProject(in.ProjectID); err != nil {
		return Progress{}, err
	}
	if in.DeclaredSize < 0 {
		return Progress{}, errs.Invalid("uploads.length_invalid", "size", "an upload's length is 0 or more bytes")
	}
	if in.DeclaredSize > s.MaxResumable {
		return Progress{}, file.ErrTooLarge(s.MaxResumable)
	}
	account, err := s.writable(ctx, c, in.ProjectID)
	if err != nil {
		return Progress{}, err
	}
	used, err := s.Store.UsedBytes(ctx, account)
	if err != nil {
		return Progress{}, err
	}
	if err := s.Billing.Allow(ctx, account, "storage_bytes", used+in.DeclaredSize); err != nil {
		return Progress{}, err
	}
	f := file.File{ID: uuid.NewString(), ProjectID: in.ProjectID, OwnerID: c.UserID, AccountID: account,
		Name: file.SanitizeName(in.Filename), DeclaredType: in.DeclaredType, State: file.Quarantined, Size: in.DeclaredSize,
		CreatedAt: s.now()}
	f.Key = "quarantine/" + f.ID
	if f.UploadID, err = s.Uploads.Create(ctx, f.ID, f.Size); err != nil {
		return Progress{}, err
	}
	if err := s.Store.Insert(ctx, f); err != nil {
		_ = s.Uploads.Abort(context.WithoutCancel(ctx), f.UploadID)
		return Progress{}, err
	}
	return Progress{File: f}, nil
}

// upload is the caller's own resumable upload id; anybody else's does not exist for them.
func (s *Service) upload(ctx context.Context, c caller.Caller, id string) (file.File, error) {
	if _, err := uuid.Parse(id); err != nil {
		return file.File{}, errs.NotFound("uploads.not_found", "no such upload")
	}
	f, err := s.Store.Get(ctx, id)
	if err != nil {
		if errs.As(err).Kind == errs.KindNotFound {
			return file.File{}, errs.NotFound("uploads.not_found", "no such upload")
		}
		return file.File{}, err
	}
	return f, f.UploadedBy(c.UserID)
}

// GetUpload is where the caller's upload stands.
func (s *Service) GetUpload(ctx context.Context, c caller.Caller, id string) (Progress, error) {
	f, err := s.upload(ctx, c, id)
	if err != nil {
		return Progress{}, err
	}
	return s.progress(ctx, f)
}

func (s *Service) progress(ctx context.Context, f file.File) (Progress, error) {
	if !f.Resumable() {
		return Progress{File: f, Offset: f.Size}, nil // scanned: every byte arrived
	}
	off, err := s.Uploads.Offset(ctx, f.UploadID)
	if err != nil {
		return Progress{}, err
	}
	return Progress{File: f, Offset: off}, nil
}

// WriteUpload appends body to the caller's upload at offset, which must be where the upload stands.
// One writer at a time per upload, across replicas: a second is refused (uploads.locked), not queued.
// The caller must still be an editor of the project. Bytes beyond the announced length are refused.
func (s *Service) WriteUpload(ctx context.Context, c caller.Caller, id string, offset int64, body io.Reader) (Progress, error) {
	f, err := s.upload(ctx, c, id)
	if err != nil {
		return Progress{}, err
	}
	var out Progress
	err = s.Store.Exclusive(ctx, "upload:"+f.ID, 0, func(ctx context.Context) error {
		if f, err = s.Store.Get(ctx, f.ID); err != nil { // as it stands under the lock
			return err
		}
		if _, err := s.writable(ctx, c, f.ProjectID); err != nil {
			return err
		}
		current := f.Size
		if f.Resumable() {
			if current, err = s.Uploads.Offset(ctx, f.UploadID); err != nil {
				return err
			}
		}
		if err := f.Accepts(offset, current); err != nil {
			return err
		}
		n, werr := s.Uploads.Write(ctx, f.UploadID, offset, &bounded{r: body, left: f.Size - offset, limit: f.Size})
		f.Received = offset + n
		if err := s.Store.SetReceived(context.WithoutCancel(ctx), f.ID, f.Received); err != nil && werr == nil {
			werr = err
		}
		out = Progress{File: f, Offset: f.Received}
		if errors.Is(werr, errTooMuch) {
			return file.ErrTooLarge(f.Size)
		}
		return werr
	})
	return out, err
}

// bounded reads at most left bytes from r and fails, rather than stop quietly, when r has more.
type bounded struct {
	r           io.Reader
	left, limit int64
}

func (b *bounded) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := io.ReadFull(b.r, one[:]); n > 0 {
			return 0, errTooMuch
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// FinishUpload scans a complete upload: clean, it is stored like a synchronous upload; infected, its
// bytes are deleted and the file stays as infected (the answer is no error: the upload itself
// succeeded, and its state says what became of it). Finishing again answers the file as it is.
func (s *Service) FinishUpload(ctx context.Context, c caller.Caller, id string) (Progress, error) {
	f, err := s.upload(ctx, c, id)
	if err != nil {
		return Progress{}, err
	}
	return s.finishUpload(ctx, f.ID)
}

// finishWait is how long a finish waits for the upload's lock: a racing writer holds it only to be
// told the upload is complete, and the write that completed it must not fail for that.
const finishWait = 10 * time.Second

func (s *Service) finishUpload(ctx context.Context, id string) (Progress, error) {
	var out Progress
	err := s.Store.Exclusive(ctx, "upload:"+id, finishWait, func(ctx context.Context) error {
		f, err := s.Store.Get(ctx, id)
		if err != nil {
			return err
		}
		if !f.Resumable() {
			out = Progress{File: f, Offset: f.Size}
			return nil
		}
		off, err := s.Uploads.Offset(ctx, f.UploadID)
		if err != nil {
			return err
		}
		if off != f.Size {
			return errs.Conflict("uploads.incomplete", "the upload has not received all its bytes yet")
		}
		if err := s.Uploads.Finish(ctx, f.UploadID, f.Key); err != nil {
			return err
		}
		if f, err = s.scanStored(ctx, f); err != nil {
			return err
		}
		if err := s.Uploads.Forget(ctx, f.UploadID); err != nil {
			s.Log.WarnContext(ctx, "finished upload's description left behind", "file_id", f.ID, "error", err)
		}
		out = Progress{File: f, Offset: f.Size}
		return nil
	})
	return out, err
}

// scanStored reads a stored quarantined object once into the scanner and the hash, then releases it
// (clean) or deletes its bytes and records it infected.
func (s *Service) scanStored(ctx context.Context, f file.File) (file.File, error) {
	r, err := s.Objects.Get(ctx, f.Key)
	if err != nil {
		return file.File{}, err
	}
	defer r.Close()
	announced := f.Size
	clean, verdict, err := s.inspect(ctx, &f, r)
	if err != nil {
		return file.File{}, err
	}
	if f.Size != announced {
		return file.File{}, errs.Internal(errors.New("the stored upload's length differs from the announced one"))
	}
	f.Received = f.Size
	if !clean {
		return s.quarantineInfected(ctx, f, f.OwnerID, verdict)
	}
	return s.release(ctx, f, verdict)
}

// FinishPending finishes uploads that received every byte but were not finished (the finishing
// request failed, or its replica stopped): a worker's round.
func (s *Service) FinishPending(ctx context.Context) (int, error) {
	fs, err := s.Store.Unfinished(ctx, 20)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range fs {
		if _, err := s.finishUpload(ctx, f.ID); err != nil {
			if errs.As(err).Kind == errs.KindConflict {
				continue // being written or finished right now, or not complete after all
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// RunUploadWorker finishes pending uploads and expires abandoned ones every interval until ctx ends:
// synchronous uploads left in quarantine longer than age (a crash mid-upload), resumable ones not
// finished within resumableAge.
func (s *Service) RunUploadWorker(ctx context.Context, interval, age, resumableAge time.Duration) error {
	return server.Every(ctx, interval, func(ctx context.Context) {
		if items, err := jobs.Pass(ctx, "files.finish_uploads", func(ctx context.Context) (jobs.Items, error) {
			n, err := s.FinishPending(ctx)
			return jobs.Items{"finished": n}, err
		}); err != nil {
			s.Log.ErrorContext(ctx, "finishing complete uploads", "error", err)
		} else if items["finished"] > 0 {
			s.Log.InfoContext(ctx, "complete uploads finished", "files", items["finished"])
		}
		if items, err := jobs.Pass(ctx, "files.expire_uploads", func(ctx context.Context) (jobs.Items, error) {
			n, err := s.ExpireAbandoned(ctx, age, resumableAge)
			return jobs.Items{"expired": n}, err
		}); err != nil {
			s.Log.ErrorContext(ctx, "expiring abandoned uploads", "error", err)
		} else if items["expired"] > 0 {
			s.Log.InfoContext(ctx, "abandoned uploads expired", "files", items["expired"])
		}
	})
}
