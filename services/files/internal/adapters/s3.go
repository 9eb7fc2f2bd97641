package adapters

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/acme/platform/services/platform/errs"
)

// S3 is the object store through aws-sdk-go-v2: uploads stream in multipart parts of PartSize, one
// part at a time, so an upload holds about one part in memory whatever its size.
type S3 struct {
	client   *s3.Client
	presign  *s3.PresignClient
	uploader *manager.Uploader
	Bucket   string
}

// NewS3 makes the client for endpoint ("" for AWS itself) with static credentials.
func NewS3(endpoint, region, bucket, accessKey, secretKey string) *S3 {
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
		// Checksums only when the operation requires them: S3-compatible servers differ in support.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	up := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = manager.MinUploadPartSize // 5 MiB
		u.Concurrency = 1
	})
	return &S3{client: client, presign: s3.NewPresignClient(client), uploader: up, Bucket: bucket}
}

func unavailable(err error) error {
	return errs.Unavailable("files.storage_unavailable", "the file store cannot be reached", err)
}

// Put streams r to key (multipart beyond one part; an aborted stream aborts the multipart upload).
func (s *S3) Put(ctx context.Context, key string, r io.Reader, contentType string) error {
	_, err := s.uploader.Upload(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: &key, Body: r, ContentType: &contentType})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Get reads key.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		var nf *types.NoSuchKey
		if errors.As(err, &nf) {
			return nil, errs.NotFound("files.not_found", "the file's bytes are gone")
		}
		return nil, unavailable(err)
	}
	return out.Body, nil
}

// Move copies from to to, then deletes from.
func (s *S3) Move(ctx context.Context, from, to string) error {
	src := s.Bucket + "/" + url.PathEscape(from)
	if _, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.Bucket, Key: &to, CopySource: &src}); err != nil {
		return unavailable(err)
	}
	return s.Delete(ctx, from)
}

// Delete removes key; a key already gone is no error.
func (s *S3) Delete(ctx context.Context, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: &key}); err != nil {
		return unavailable(err)
	}
	return nil
}

// SignedGet presigns a GET of key for ttl whose response carries the content type, disposition and
// a private cache policy, whatever the object was stored with.
func (s *S3) SignedGet(ctx context.Context, key, contentType, disposition string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key,
		ResponseContentType: &contentType, ResponseContentDisposition: &disposition,
		ResponseCacheControl: aws.String("private, max-age=" + strconv.FormatInt(int64(ttl.Seconds()), 10))},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", unavailable(err)
	}
	return req.URL, nil
}
