package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/acme/platform/services/files/internal/domain/file"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
	"github.com/acme/platform/services/platform/outbox"
)

type memStore struct {
	mu        sync.Mutex
	files     map[string]file.File
	published []outbox.Event
	held      map[string]bool
}

func (m *memStore) Insert(_ context.Context, f file.File) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[f.ID] = f
	return nil
}
func (m *memStore) Save(_ context.Context, f file.File, evs ...outbox.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[f.ID] = f
	m.published = append(m.published, evs...)
	return nil
}
func (m *memStore) Get(_ context.Context, id string) (file.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[id]; ok {
		return f, nil
	}
	return file.File{}, errNoFile()
}
func (m *memStore) List(context.Context, string, *Cursor, int) ([]file.File, error) { return nil, nil }
func (m *memStore) Delete(_ context.Context, id string, evs ...outbox.Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, id)
	m.published = append(m.published, evs...)
	return nil
}
func (m *memStore) UsedBytes(_ context.Context, account string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for _, f := range m.files {
		if f.AccountID == account && f.State != file.Infected {
			n += f.Size
		}
	}
	return n, nil
}
func (m *memStore) OfOwner(context.Context, string) ([]file.File, error)   { return nil, nil }
func (m *memStore) OfProject(context.Context, string) ([]file.File, error) { return nil, nil }
func (m *memStore) Abandoned(_ context.Context, cutoff, resumableCutoff time.Time, _ int) ([]file.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []file.File
	for _, f := range m.files {
		if f.State == file.Quarantined && ((f.UploadID == "" && f.CreatedAt.Before(cutoff)) || (f.UploadID != "" && f.CreatedAt.Before(resumableCutoff))) {
			out = append(out, f)
		}
	}
	return out, nil
}
func (m *memStore) Scan(context.Context, string, int) ([]file.File, error) { return nil, nil }
func (m *memStore) Reassign(_ context.Context, projectID, accountID string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for id, f := range m.files {
		if f.ProjectID == projectID && f.AccountID != accountID {
			f.AccountID = accountID
			m.files[id] = f
			n++
		}
	}
	return n, nil
}
func (m *memStore) SetReceived(_ context.Context, id string, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[id]; ok && f.State == file.Quarantined {
		f.Received = n
		m.files[id] = f
	}
	return nil
}
func (m *memStore) Unfinished(context.Context, int) ([]file.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []file.File
	for _, f := range m.files {
		if f.Resumable() && f.Received == f.Size {
			out = append(out, f)
		}
	}
	return out, nil
}
func (m *memStore) Exclusive(ctx context.Context, key string, wait time.Duration, fn func(context.Context) error) error {
	deadline := time.Now().Add(wait)
	m.mu.Lock()
	if m.held == nil {
		m.held = map[string]bool{}
	}
	for m.held[key] {
		m.mu.Unlock()
		if !time.Now().Before(deadline) {
			return errs.Conflict("uploads.locked", "held")
		}
		runtime.Gosched()
		m.mu.Lock()
	}
	m.held[key] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.held, key)
		m.mu.Unlock()
	}()
	return fn(ctx)
}

// memObjects keeps objects in memory, or with discard, only their sizes (for the benchmark).
type memObjects struct {
	mu      sync.Mutex
	objects map[string][]byte
	discard bool
}

func (o *memObjects) Put(_ context.Context, key string, r io.Reader, _ string) error {
	if o.discard {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	b, err := io.ReadAll(r)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[key] = b
	return err
}
func (o *memObjects) Get(_ context.Context, key string) (io.ReadCloser, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return io.NopCloser(bytes.NewReader(o.objects[key])), nil
}
func (o *memObjects) Move(_ context.Context, from, to string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[to] = o.objects[from]
	delete(o.objects, from)
	return nil
}
func (o *memObjects) Delete(_ context.Context, key string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.objects, key)
	return nil
}
func (o *memObjects) SignedGet(_ context.Context, key, _, _ string, _ time.Duration) (string, error) {
	return "https://objects.example/" + key, nil
}

// marker is what the fake scanner calls a virus; it reads the stream in small pieces, as clamd does.
type markerScanner struct{ marker []byte }

func (s markerScanner) Scan(_ context.Context, r io.Reader) (bool, string, error) {
	buf := make([]byte, 32<<10)
	var tail []byte
	found := false
	for {
		n, err := r.Read(buf)
		window := append(tail, buf[:n]...)
		if bytes.Contains(window, s.marker) {
			found = true
		}
		tail = append([]byte(nil), window[max(0, len(window)-len(s.marker)):]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, "", err
		}
	}
	if found {
		return false, "Test.Marker FOUND", nil
	}
	return true, "OK", nil
}

type roles map[string]string

func (r roles) Access(_ context.Context, c caller.Caller, _ string) (string, string, error) {
	role, ok := r[c.UserID]
	if !ok {
		return "", "", errs.NotFound("project.not_found", "no such project")
	}
	return role, "owner-1", nil
}

type storageLimit int64

func (l storageLimit) Allow(_ context.Context, _, _ string, total int64) error {
	if total > int64(l) {
		return &errs.Error{Kind: errs.KindPaymentRequired, Code: "billing.plan_limit_reached"}
	}
	return nil
}

type noThumbs struct{}

func (noThumbs) Check(io.Reader) error               { return nil }
func (noThumbs) Thumbnail(io.Reader) ([]byte, error) { return []byte("thumb"), nil }

const projectID = "5f0b6c1e-0000-4000-8000-000000000001"

func newService(limit int64) (*Service, *memStore, *memObjects) {
	st, obj := &memStore{files: map[string]file.File{}}, &memObjects{objects: map[string][]byte{}}
	return &Service{Store: st, Objects: obj, Scanner: markerScanner{[]byte("VIRUS")}, Projects: roles{"ed": "editor", "vi": "viewer", "ed2": "editor"},
		Billing: storageLimit(limit), Thumbnailer: noThumbs{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now,
		Uploads: &memUploads{objects: obj, uploads: map[string]*memUpload{}}, MaxUpload: 1 << 20, MaxResumable: 4 << 20,
		LinkTTL: time.Minute}, st, obj
}

var editor, viewer = caller.Caller{UserID: "ed"}, caller.Caller{UserID: "vi"}

func TestUpload(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		who   caller.Caller
		body  []byte
		size  int64
		limit int64
		code  string
		max   int64 // the caller's max_size
	}{
		{"clean text", editor, []byte("hello"), 5, 1 << 30, "", 0},
		{"infected", editor, append(bytes.Repeat([]byte("a"), 40000), []byte("xxVIRUSxx")...), 40009, 1 << 30, "files.infected", 0},
		{"a viewer", viewer, []byte("hello"), 5, 1 << 30, "files.forbidden", 0},
		{"announced too large", editor, []byte("hello"), 2 << 20, 1 << 30, "files.too_large", 0},
		{"streams too large", editor, bytes.Repeat([]byte("b"), 1<<20+1), 0, 1 << 30, "files.too_large", 0},
		{"beyond the plan's storage", editor, []byte("hello"), 5, 4, "billing.plan_limit_reached", 0},
		{"beyond the caller's bound", editor, []byte("hello"), 0, 1 << 30, "files.too_large", 4},
		{"within the caller's bound", editor, []byte("hello"), 0, 1 << 30, "", 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, st, obj := newService(tc.limit)
			f, err := s.Upload(ctx, tc.who, Upload{ProjectID: projectID, Filename: "../x.txt", DeclaredType: "image/png",
				DeclaredSize: tc.size, MaxSize: tc.max, Body: bytes.NewReader(tc.body)})
			if tc.code != "" {
				if errs.As(err).Code != tc.code {
					t.Fatalf("%v, want %s", err, tc.code)
				}
				for k := range obj.objects {
					t.Errorf("left object %s", k)
				}
				if tc.code == "files.infected" {
					if len(st.files) != 1 || st.published[0].Envelope.Type != "file.infected" {
						t.Fatalf("infected: %+v %+v", st.files, st.published)
					}
				} else if len(st.files) != 0 {
					t.Errorf("left records %+v", st.files)
				}
				return
			}
			if err != nil || f.State != file.Clean || f.ContentType != "text/plain" || f.DeclaredType != "image/png" || f.Name != "x.txt" ||
				f.Size != 5 || f.Key != "files/"+projectID+"/"+f.ID || string(obj.objects[f.Key]) != "hello" || len(obj.objects) != 1 {
				t.Fatalf("%v %+v %v", err, f, obj.objects)
			}
			if _, err := s.DownloadLink(ctx, viewer, f.ID, false); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DownloadLink(ctx, caller.Caller{UserID: "stranger"}, f.ID, false); errs.As(err).Code != "files.not_found" {
				t.Fatalf("a stranger: %v", err)
			}
		})
	}
}

// An upload streams: memory allocated per upload stays a small constant while the file grows
// (reported as allocated bytes per uploaded byte; buffering the file would make it at least 1).
func BenchmarkUpload_MemoryPerByte(b *testing.B) {
	for _, size := range []int64{4 << 20, 64 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			s, _, obj := newService(1 << 40)
			obj.discard = true
			s.Scanner = discardScanner{}
			s.MaxUpload = size
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				body := io.LimitReader(zeros{}, size)
				if _, err := s.Upload(context.Background(), editor, Upload{ProjectID: projectID, Filename: "big.bin", DeclaredSize: size, Body: body}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discardScanner reads the stream as clamd's client does, in one reused buffer.
type discardScanner struct{}

func (discardScanner) Scan(_ context.Context, r io.Reader) (bool, string, error) {
	_, err := io.CopyBuffer(io.Discard, r, make([]byte, 64<<10))
	return err == nil, "OK", err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func byteSize(n int64) string {
	return string(rune('0'+n>>20/10%10)) + string(rune('0'+n>>20%10)) + "MiB"
}

// A project's new owner's plan pays for its files: the storage moves with ownership.
func TestOwnerChanged_StorageCountsInTheNewOwnersAccount(t *testing.T) {
	ctx := context.Background()
	s, st, _ := newService(1 << 30)
	if _, err := s.Upload(ctx, editor, Upload{ProjectID: projectID, Filename: "a.txt", Body: bytes.NewReader([]byte("hello"))}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OwnerChanged(ctx, projectID, "owner-2"); err != nil || n != 1 {
		t.Fatalf("%d %v", n, err)
	}
	before, _ := st.UsedBytes(ctx, "owner-1")
	after, _ := st.UsedBytes(ctx, "owner-2")
	if before != 0 || after != 5 {
		t.Fatalf("old owner %d, new owner %d", before, after)
	}
	if n, _ := s.OwnerChanged(ctx, projectID, "owner-2"); n != 0 {
		t.Fatal("a redelivered change moved files again")
	}
}
