package adapters

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/s3store"

	"github.com/acme/platform/services/platform/errs"
)

// Uploads keeps resumable uploads in S3 through tusd's S3 store: the bytes as an S3 multipart upload
// of the object quarantine/<file id> (pieces shorter than a part wait in an object of their own until
// the next piece completes one), the upload's description in uploads/<file id>.info. Parts are
// buffered on disk, not in memory.
type Uploads struct {
	store s3store.S3Store
	s3    *S3
}

// NewUploads keeps uploads in s's bucket; tmp is where parts wait before they go to S3 ("" for the
// system's temporary directory).
func NewUploads(s *S3, tmp string) *Uploads {
	store := s3store.New(s.Bucket, s.client)
	store.ObjectPrefix = "quarantine/"
	store.MetadataObjectPrefix = "uploads/"
	store.PreferredPartSize = 5 << 20 // S3's smallest part: the least disk per upload
	store.MaxBufferedParts = 4
	store.TemporaryDirectory = tmp
	store.SetConcurrentPartUploads(4)
	return &Uploads{store: store, s3: s}
}

func uploadErr(err error) error {
	if errors.Is(err, handler.ErrNotFound) {
		return errs.NotFound("uploads.not_found", "no such upload")
	}
	return unavailable(err)
}

// Create starts the upload of fileID, of size bytes, and answers its id in the store.
func (u *Uploads) Create(ctx context.Context, fileID string, size int64) (string, error) {
	up, err := u.store.NewUpload(ctx, handler.FileInfo{ID: fileID, Size: size, MetaData: handler.MetaData{}})
	if err != nil {
		return "", uploadErr(err)
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return "", uploadErr(err)
	}
	return info.ID, nil
}

// Offset is how many bytes of the upload are stored.
func (u *Uploads) Offset(ctx context.Context, uploadID string) (int64, error) {
	up, err := u.store.GetUpload(ctx, uploadID)
	if err != nil {
		return 0, uploadErr(err)
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return 0, uploadErr(err)
	}
	return info.Offset, nil
}

// Write stores r's bytes at offset and answers how many it stored; bytes read before a failure are
// kept as far as the store could (the next Offset says where the upload stands).
func (u *Uploads) Write(ctx context.Context, uploadID string, offset int64, r io.Reader) (int64, error) {
	up, err := u.store.GetUpload(ctx, uploadID)
	if err != nil {
		return 0, uploadErr(err)
	}
	n, err := up.WriteChunk(ctx, offset, r)
	if err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			return n, e
		}
		return n, uploadErr(err)
	}
	return n, nil
}

// Finish completes the upload into its object. Finishing again is no error: the object is there.
func (u *Uploads) Finish(ctx context.Context, uploadID, key string) error {
	if _, err := u.s3.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &u.s3.Bucket, Key: &key}); err == nil {
		return nil
	} else if !isNotFound(err) {
		return unavailable(err)
	}
	up, err := u.store.GetUpload(ctx, uploadID)
	if err != nil {
		return uploadErr(err)
	}
	if err := up.FinishUpload(ctx); err != nil {
		return uploadErr(err)
	}
	return nil
}

// Forget removes what the store keeps beside a finished upload's object (its description).
func (u *Uploads) Forget(ctx context.Context, uploadID string) error {
	return u.s3.Delete(ctx, "uploads/"+objectID(uploadID)+".info")
}

// Abort ends an unfinished upload and removes everything it stored; an upload already gone is no
// error.
func (u *Uploads) Abort(ctx context.Context, uploadID string) error {
	up, err := u.store.GetUpload(ctx, uploadID)
	if err == nil {
		err = u.store.AsTerminatableUpload(up).Terminate(ctx)
	}
	if err != nil && !errors.Is(err, handler.ErrNotFound) && !isNotFound(err) {
		return unavailable(err)
	}
	return u.Forget(ctx, uploadID)
}

// objectID is the object part of the store's upload id ("<object id>+<multipart id>").
func objectID(uploadID string) string {
	id, _, _ := strings.Cut(uploadID, "+")
	return id
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nk *types.NoSuchKey
	var nu *types.NoSuchUpload
	return errors.As(err, &nf) || errors.As(err, &nk) || errors.As(err, &nu)
}
