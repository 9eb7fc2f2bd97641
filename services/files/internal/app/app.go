// Package app holds the files use cases. An upload streams once, in constant memory, into three
// consumers at the same time: the object store (under the quarantine prefix), the virus scanner and
// a SHA-256; only when the scanner passed it is the object moved where downloads can reach it.
package app

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/acme/platform/services/files/internal/domain/file"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/keyset"
	"github.com/acme/platform/services/platform/outbox"
)

// Store keeps files' metadata.
type Store interface {
	Insert(ctx context.Context, f file.File) error
	// Save writes f, and evs into the outbox in the same transaction.
	Save(ctx context.Context, f file.File, evs ...outbox.Event) error
	Get(ctx context.Context, id string) (file.File, error)
	// List pages through a project's files, newest first, after the cursor (created_at, id).
	List(ctx context.Context, projectID string, after *Cursor, limit int) ([]file.File, error)
	// Delete removes the record, and writes evs into the outbox in the same transaction.
	Delete(ctx context.Context, id string, evs ...outbox.Event) error
	// UsedBytes is what an account's files take, quarantined ones included.
	UsedBytes(ctx context.Context, accountID string) (int64, error)
	// OfOwner and OfProject list files to remove when a user is erased or a project deleted.
	OfOwner(ctx context.Context, userID string) ([]file.File, error)
	OfProject(ctx context.Context, projectID string) ([]file.File, error)
	// Abandoned lists quarantined files that never finished: synchronous uploads created before
	// cutoff, resumable ones created before resumableCutoff.
	Abandoned(ctx context.Context, cutoff, resumableCutoff time.Time, limit int) ([]file.File, error)
	// SetReceived records how much of a resumable upload is stored.
	SetReceived(ctx context.Context, id string, received int64) error
	// Unfinished lists resumable uploads that received every byte and were not scanned yet.
	Unfinished(ctx context.Context, limit int) ([]file.File, error)
	// Scan lists clean files after afterID ("" from the start), in id order.
	Scan(ctx context.Context, afterID string, limit int) ([]file.File, error)
	// Reassign makes accountID the account a project's files count in; it answers how many changed.
	Reassign(ctx context.Context, projectID, accountID string) (int64, error)
	// Exclusive runs fn while no other caller, in any replica, runs under the same key; a key that is
	// held is waited for up to wait, then refused (uploads.locked). Wait 0 refuses at once.
	Exclusive(ctx context.Context, key string, wait time.Duration, fn func(context.Context) error) error
}

// Cursor is a position in a project's file list.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Objects is the object store (S3).
type Objects interface {
	// Put streams r to key; it reads r to its end or fails.
	Put(ctx context.Context, key string, r io.Reader, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Move copies from to to and deletes from.
	Move(ctx context.Context, from, to string) error
	Delete(ctx context.Context, key string) error
	// SignedGet is a URL that reads key for ttl, answered with the given headers.
	SignedGet(ctx context.Context, key, contentType, disposition string, ttl time.Duration) (string, error)
}

// Scanner is the virus scanner (ClamAV). It reads r to its end.
type Scanner interface {
	Scan(ctx context.Context, r io.Reader) (clean bool, verdict string, err error)
}

// Projects answers what the caller may do in a project (projects, through Dapr).
type Projects interface {
	// Access is the caller's role in the project ("" for a visible project it is no member of) and
	// the project's owner; a project the caller may not see is not found.
	Access(ctx context.Context, c caller.Caller, projectID string) (role, ownerID string, err error)
}

// Entitlements says whether an account's plan allows a total of a meter (billing, through Dapr).
type Entitlements interface {
	Allow(ctx context.Context, accountID, meter string, total int64) error
}

// Thumbnailer makes a thumbnail of an image read from r: PNG bytes, without metadata. An image
// whose header declares more pixels than the bound is refused (a decompression bomb).
type Thumbnailer interface {
	Check(r io.Reader) error
	Thumbnail(r io.Reader) ([]byte, error)
}

// Service is the files use cases.
type Service struct {
	Store       Store
	Objects     Objects
	Scanner     Scanner
	Projects    Projects
	Billing     Entitlements
	Thumbnailer Thumbnailer
	Uploads     Uploads
	Log         *slog.Logger
	Now         func() time.Time
	// MaxUpload bounds one synchronous upload, MaxResumable one resumable upload; LinkTTL is how long
	// a download link works.
	MaxUpload    int64
	MaxResumable int64
	LinkTTL      time.Duration
}

// Upload is what a client sends: a header and the bytes.
type Upload struct {
	ProjectID    string
	Filename     string
	DeclaredType string
	DeclaredSize int64
	// MaxSize is the caller's bound on the bytes (0: none); the smaller of it and MaxUpload applies.
	MaxSize int64
	Body    io.Reader
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func checkProject(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return errs.NotFound("project.not_found", "no such project")
	}
	return nil
}

// writable checks the caller may add and remove files of the project: editors and up.
func (s *Service) writable(ctx context.Context, c caller.Caller, projectID string) (ownerID string, err error) {
	role, owner, err := s.Projects.Access(ctx, c, projectID)
	if err != nil {
		return "", err
	}
	switch role {
	case "owner", "admin", "editor":
		return owner, nil
	}
	return "", errs.PermissionDenied("files.forbidden", "only the project's editors, admins and owners add or remove files")
}

// counter fails the stream as soon as more than limit bytes passed.
type counter struct {
	n, limit int64
}

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.n > c.limit {
		return 0, errTooMuch
	}
	return len(p), nil
}

var errTooMuch = errors.New("the upload is larger than allowed")

// Upload stores a file: checked against the caller's role, the upload limit and the plan's storage
// before a byte is read; streamed into quarantine, the scanner and a hash at once; moved out of
// quarantine only when clean. An infected file is deleted and its record kept as infected.
func (s *Service) Upload(ctx context.Context, c caller.Caller, in Upload) (file.File, error) {
	if err := checkProject(in.ProjectID); err != nil {
		return file.File{}, err
	}
	limit := s.MaxUpload
	if in.MaxSize > 0 {
		limit = min(limit, in.MaxSize)
	}
	if in.DeclaredSize > limit {
		return file.File{}, file.ErrTooLarge(limit)
	}
	account, err := s.writable(ctx, c, in.ProjectID)
	if err != nil {
		return file.File{}, err
	}
	used, err := s.Store.UsedBytes(ctx, account)
	if err != nil {
		return file.File{}, err
	}
	if err := s.Billing.Allow(ctx, account, "storage_bytes", used+max(in.DeclaredSize, 0)); err != nil {
		return file.File{}, err
	}
	f := file.File{ID: uuid.NewString(), ProjectID: in.ProjectID, OwnerID: c.UserID, AccountID: account,
		Name: file.SanitizeName(in.Filename), DeclaredType: in.DeclaredType, State: file.Quarantined, CreatedAt: s.now()}
	f.Key = "quarantine/" + f.ID
	if err := s.Store.Insert(ctx, f); err != nil {
		return file.File{}, err
	}
	clean, verdict, err := s.stream(ctx, &f, in.Body, limit)
	if err != nil {
		s.discard(f)
		return file.File{}, err
	}
	if !clean {
		if f, err = s.quarantineInfected(ctx, f, c.UserID, verdict); err != nil {
			return file.File{}, err
		}
		return f, file.ErrInfected(verdict)
	}
	return s.release(ctx, f, verdict)
}

// quarantineInfected deletes an infected file's bytes and keeps its record as infected, audited.
func (s *Service) quarantineInfected(ctx context.Context, f file.File, actor, verdict string) (file.File, error) {
	_ = s.Objects.Delete(context.WithoutCancel(ctx), f.Key)
	f.State, f.ScanResult, f.Key = file.Infected, verdict, ""
	if err := s.Store.Save(ctx, f, s.audit(actor, "file.infected", f, "denied", map[string]string{"verdict": verdict})); err != nil {
		return file.File{}, err
	}
	s.Log.WarnContext(ctx, "infected upload deleted", "file_id", f.ID, "project_id", f.ProjectID, "verdict", verdict)
	return f, nil
}

// inspect reads a stored object once into the scanner and the hash, and fills in f's size, digest and
// sniffed type.
func (s *Service) inspect(ctx context.Context, f *file.File, r io.Reader) (bool, string, error) {
	// A stored upload was bounded as it arrived.
	return s.stream(ctx, f, r, 0)
}

// stream reads the body once into the scanner, the hash and (when storing: a limit above 0) the
// object store under f.Key, and fills in f's size, digest and sniffed type. A stored body of more
// than limit bytes is refused.
func (s *Service) stream(ctx context.Context, f *file.File, body io.Reader, limit int64) (bool, string, error) {
	store := limit > 0
	br := bufio.NewReaderSize(body, 512)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return false, "", errs.Invalid("files.unreadable", "file", "the upload could not be read")
	}
	f.ContentType = sniff(head)
	toScan, scanW := io.Pipe()
	g, gctx := errgroup.WithContext(ctx)
	sinks := []io.Writer{scanW}
	if store {
		toStore, storeW := io.Pipe()
		g.Go(func() error {
			err := s.Objects.Put(gctx, f.Key, toStore, f.ContentType)
			toStore.CloseWithError(errOr(err, errStopped))
			return err
		})
		sinks = append(sinks, storeW)
	}
	var clean bool
	var verdict string
	g.Go(func() error {
		var err error
		clean, verdict, err = s.Scanner.Scan(gctx, toScan)
		toScan.CloseWithError(errOr(err, errStopped))
		return err
	})
	hash := sha256.New()
	if !store {
		limit = max(s.MaxResumable, f.Size)
	}
	size := &counter{limit: limit}
	_, copyErr := io.Copy(io.MultiWriter(append([]io.Writer{size, hash}, sinks...)...), br)
	for _, w := range sinks {
		w.(*io.PipeWriter).CloseWithError(copyErr)
	}
	waitErr := g.Wait()
	switch {
	case errors.Is(copyErr, errTooMuch):
		return false, "", file.ErrTooLarge(limit)
	case copyErr != nil && !errors.Is(copyErr, errStopped) && !errors.Is(copyErr, io.ErrClosedPipe):
		return false, "", errs.Invalid("files.unreadable", "file", "the upload ended early: "+copyErr.Error())
	case waitErr != nil:
		return false, "", waitErr
	case copyErr != nil:
		return false, "", errs.Internal(copyErr)
	}
	f.Size, f.SHA256 = size.n, hex.EncodeToString(hash.Sum(nil))
	return clean, verdict, nil
}

var errStopped = errors.New("the consumer stopped reading")

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// sniff is the content type the bytes say (the client's claim is not trusted).
func sniff(head []byte) string {
	t := http.DetectContentType(head)
	if i := indexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	return t
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// release moves a clean file out of quarantine, makes its thumbnail and records it clean.
func (s *Service) release(ctx context.Context, f file.File, verdict string) (file.File, error) {
	if file.Thumbnailable(f.ContentType) {
		if err := s.checkImage(ctx, f.Key); err != nil {
			s.discard(f)
			return file.File{}, err
		}
	}
	key := "files/" + f.ProjectID + "/" + f.ID
	if err := s.Objects.Move(ctx, f.Key, key); err != nil {
		s.discard(f)
		return file.File{}, err
	}
	f.Key, f.State, f.ScanResult = key, file.Clean, verdict
	if file.Thumbnailable(f.ContentType) {
		if thumb, err := s.thumbnail(ctx, f.Key); err != nil {
			s.Log.WarnContext(ctx, "no thumbnail", "file_id", f.ID, "error", err)
		} else {
			tk := "thumbnails/" + f.ProjectID + "/" + f.ID + ".png"
			if err := s.Objects.Put(ctx, tk, bytesReader(thumb), "image/png"); err != nil {
				return file.File{}, err
			}
			f.ThumbKey = tk
		}
	}
	if err := s.Store.Save(ctx, f, s.audit(f.OwnerID, "file.uploaded", f, "success", nil), s.fileEvent("file.uploaded", f.OwnerID, f)); err != nil {
		return file.File{}, err
	}
	return f, nil
}

// audit is the audit record of what happened to f.
func (s *Service) audit(actor, typ string, f file.File, outcome string, extra map[string]string) outbox.Event {
	details := map[string]string{"project_id": f.ProjectID, "name": f.Name, "size_bytes": strconv.FormatInt(f.Size, 10),
		"sha256": f.SHA256, "content_type": f.ContentType}
	maps.Copy(details, extra)
	return outbox.Event{Topic: events.TopicAudit, Envelope: events.Envelope{EventID: uuid.NewString(), Type: typ, OccurredAt: s.now(),
		Subject: f.ID, Actor: actor, Region: "us",
		Payload: events.AuditDetails{Source: "files", ResourceType: "file", Outcome: outcome, Details: details}}}
}

func (s *Service) checkImage(ctx context.Context, key string) error {
	r, err := s.Objects.Get(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	return s.Thumbnailer.Check(r)
}

func (s *Service) thumbnail(ctx context.Context, key string) ([]byte, error) {
	r, err := s.Objects.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return s.Thumbnailer.Thumbnail(r)
}

// discard removes what a failed upload left: its object and its record.
func (s *Service) discard(f file.File) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if f.Key != "" {
		_ = s.Objects.Delete(ctx, f.Key)
	}
	_ = s.Store.Delete(ctx, f.ID)
}

// readable returns the file if the caller may see its project.
func (s *Service) readable(ctx context.Context, c caller.Caller, id string) (file.File, error) {
	if _, err := uuid.Parse(id); err != nil {
		return file.File{}, errNoFile()
	}
	f, err := s.Store.Get(ctx, id)
	if err != nil {
		return file.File{}, err
	}
	if _, _, err := s.Projects.Access(ctx, c, f.ProjectID); err != nil {
		if errs.As(err).Kind == errs.KindNotFound || errs.As(err).Kind == errs.KindPermissionDenied {
			return file.File{}, errNoFile() // a file of a project the caller may not see does not exist for them
		}
		return file.File{}, err
	}
	return f, nil
}

func errNoFile() error { return errs.NotFound("files.not_found", "no such file") }

// Get is a file's metadata.
func (s *Service) Get(ctx context.Context, c caller.Caller, id string) (file.File, error) {
	return s.readable(ctx, c, id)
}

// Link is a signed, short-lived download of a file.
type Link struct {
	URL, Disposition, ContentType string
	ExpiresAt                     time.Time
}

// DownloadLink signs a download of a clean file (or its thumbnail) for a caller who may see it.
func (s *Service) DownloadLink(ctx context.Context, c caller.Caller, id string, thumbnail bool) (Link, error) {
	f, err := s.readable(ctx, c, id)
	if err != nil {
		return Link{}, err
	}
	if err := f.Downloadable(); err != nil {
		return Link{}, err
	}
	key, ctype, name := f.Key, f.ContentType, f.Name
	if thumbnail {
		if f.ThumbKey == "" {
			return Link{}, errs.NotFound("files.no_thumbnail", "the file has no thumbnail")
		}
		key, ctype, name = f.ThumbKey, "image/png", "thumbnail-"+f.Name+".png"
	}
	disposition := file.Disposition(name, ctype)
	url, err := s.Objects.SignedGet(ctx, key, ctype, disposition, s.LinkTTL)
	if err != nil {
		return Link{}, err
	}
	return Link{URL: url, Disposition: disposition, ContentType: ctype, ExpiresAt: s.now().Add(s.LinkTTL)}, nil
}

// List pages through a project's files for a caller who may see it.
func (s *Service) List(ctx context.Context, c caller.Caller, projectID string, size int, token string) ([]file.File, string, error) {
	if err := checkProject(projectID); err != nil {
		return nil, "", err
	}
	if _, _, err := s.Projects.Access(ctx, c, projectID); err != nil {
		return nil, "", err
	}
	if size <= 0 {
		size = 50
	}
	if size > 200 {
		return nil, "", errs.Invalid("files.page_size_invalid", "page_size", "page_size must be between 1 and 200")
	}
	after, err := decodeCursor(token)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.Store.List(ctx, projectID, after, size+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > size {
		rows = rows[:size]
		last := rows[len(rows)-1]
		next = encodeCursor(Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return rows, next, nil
}

// Delete removes a file (editors and up): its objects, then its record.
func (s *Service) Delete(ctx context.Context, c caller.Caller, id string) error {
	f, err := s.readable(ctx, c, id)
	if err != nil {
		return err
	}
	if _, err := s.writable(ctx, c, f.ProjectID); err != nil {
		return err
	}
	return s.remove(ctx, f, c.UserID)
}

// remove deletes f's objects, then its record with the audit of it; actor is who removed it.
func (s *Service) remove(ctx context.Context, f file.File, actor string) error {
	if f.Resumable() {
		if err := s.Uploads.Abort(ctx, f.UploadID); err != nil {
			return err
		}
	}
	for _, k := range []string{f.Key, f.ThumbKey} {
		if k != "" {
			if err := s.Objects.Delete(ctx, k); err != nil {
				return err
			}
		}
	}
	evs := []outbox.Event{s.audit(actor, "file.deleted", f, "success", nil)}
	if f.State == file.Clean { // only a stored file counted in anyone's usage
		evs = append(evs, s.fileEvent("file.deleted", actor, f))
	}
	return s.Store.Delete(ctx, f.ID, evs...)
}

// fileEvent is file.uploaded or file.deleted on acme.projects.events, in the project's partition, for
// billing's storage usage and any other reader of projects' events.
func (s *Service) fileEvent(typ, actor string, f file.File) outbox.Event {
	return outbox.Event{Topic: events.TopicProjects, Envelope: events.Envelope{EventID: uuid.NewString(), Type: typ, OccurredAt: s.now(),
		Subject: f.ProjectID, Actor: actor, Region: "us",
		Payload: events.FileEvent{ProjectID: f.ProjectID, FileID: f.ID, AccountID: f.AccountID, UploaderID: f.OwnerID,
			SizeBytes: f.Size, ContentType: f.ContentType, Name: f.Name}}}
}

// Scan pages through every clean file, in id order, for the platform's read models (search
// rebuilding its index). Only platform services may call it.
func (s *Service) Scan(ctx context.Context, c caller.Caller, pageToken string, pageSize int) ([]file.File, string, error) {
	if !c.IsSystem() {
		return nil, "", errs.PermissionDenied("auth.system_only", "only platform services may scan every file")
	}
	return keyset.Page(ctx, errs.Invalid("files.page_size_invalid", "page_size", ""),
		errs.Invalid("files.page_token_invalid", "page_token", "page_token is not one this service issued"),
		pageToken, pageSize, keyset.Limits{Default: 100, Max: 500}, s.Store.Scan, func(f file.File) string { return f.ID })
}

// EraseOwner removes the files a user uploaded (on user.erased); running it again finds none.
func (s *Service) EraseOwner(ctx context.Context, userID string) (int, error) {
	fs, err := s.Store.OfOwner(ctx, userID)
	return s.removeAll(ctx, fs, err)
}

// OwnerChanged makes a project's new owner the account its files count in (on the role change that
// makes them owner): the plan that pays for the storage is the owner's, as billing counts it.
func (s *Service) OwnerChanged(ctx context.Context, projectID, ownerID string) (int64, error) {
	return s.Store.Reassign(ctx, projectID, ownerID)
}

// RemoveProject removes a deleted project's files (on project.deleted).
func (s *Service) RemoveProject(ctx context.Context, projectID string) (int, error) {
	fs, err := s.Store.OfProject(ctx, projectID)
	return s.removeAll(ctx, fs, err)
}

// ExpireAbandoned removes synchronous uploads left in quarantine longer than age (a crash
// mid-upload) and resumable uploads not finished within resumableAge.
func (s *Service) ExpireAbandoned(ctx context.Context, age, resumableAge time.Duration) (int, error) {
	fs, err := s.Store.Abandoned(ctx, s.now().Add(-age), s.now().Add(-resumableAge), 100)
	return s.removeAll(ctx, fs, err)
}

// removeAll removes the files a listing found, as the platform.
func (s *Service) removeAll(ctx context.Context, fs []file.File, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	for _, f := range fs {
		if err := s.remove(ctx, f, "system:files"); err != nil {
			return 0, err
		}
	}
	return len(fs), nil
}
