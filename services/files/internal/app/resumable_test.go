package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acme/platform/services/files/internal/domain/file"
	"github.com/acme/platform/services/platform/caller"
	"github.com/acme/platform/services/platform/errs"
)

// memUploads keeps resumable uploads in memory; Finish puts the bytes into the object store.
type memUploads struct {
	mu      sync.Mutex
	objects *memObjects
	uploads map[string]*memUpload
}

type memUpload struct {
	size int64
	data []byte
	done bool
}

func (u *memUploads) get(id string) (*memUpload, error) {
	up, ok := u.uploads[id]
	if !ok {
		return nil, errs.NotFound("uploads.not_found", "no such upload")
	}
	return up, nil
}

func (u *memUploads) Create(_ context.Context, fileID string, size int64) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.uploads[fileID+"+mp"] = &memUpload{size: size}
	return fileID + "+mp", nil
}
func (u *memUploads) Offset(_ context.Context, id string) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	up, err := u.get(id)
	if err != nil {
		return 0, err
	}
	return int64(len(up.data)), nil
}

// Write reads r in small pieces at the network's pace and stores them when the stream ends, as
// tusd's S3 store makes bytes visible only once a part is complete: between a writer's offset check
// and its bytes landing, racing writers see the old offset unless the service keeps them apart.
func (u *memUploads) Write(_ context.Context, id string, offset int64, r io.Reader) (int64, error) {
	var got []byte
	buf := make([]byte, 7)
	var rerr error
	for {
		k, err := r.Read(buf)
		got = append(got, buf[:k]...)
		runtime.Gosched()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	up, err := u.get(id)
	if err != nil {
		return 0, err
	}
	up.data = append(up.data, got...)
	return int64(len(got)), rerr
}

func (u *memUploads) Finish(ctx context.Context, id, key string) error {
	u.mu.Lock()
	up, err := u.get(id)
	if err == nil && !up.done {
		up.done = true
		u.objects.mu.Lock()
		u.objects.objects[key] = up.data
		u.objects.mu.Unlock()
	}
	u.mu.Unlock()
	return err
}
func (u *memUploads) Forget(_ context.Context, id string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.uploads, id)
	return nil
}
func (u *memUploads) Abort(ctx context.Context, id string) error { return u.Forget(ctx, id) }

func createUpload(t *testing.T, s *Service, size int64) Progress {
	t.Helper()
	p, err := s.CreateUpload(context.Background(), editor, Upload{ProjectID: projectID, Filename: "big.bin", DeclaredSize: size})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return errs.As(err).Code
}

func TestResumable_ContinuesFromItsOffset(t *testing.T) {
	ctx := context.Background()
	s, st, obj := newService(1 << 30)
	body := bytes.Repeat([]byte("0123456789"), 1000)
	p := createUpload(t, s, int64(len(body)))
	if got := st.files[p.File.ID]; got.State != file.Quarantined || got.Size != int64(len(body)) {
		t.Fatalf("created %+v", got)
	}
	// The first request breaks off after 3000 bytes.
	if _, err := s.WriteUpload(ctx, editor, p.File.ID, 0, io.MultiReader(bytes.NewReader(body[:3000]), failing{})); err == nil {
		t.Fatal("a broken stream wrote without error")
	}
	at, err := s.GetUpload(ctx, editor, p.File.ID)
	if err != nil || at.Offset != 3000 {
		t.Fatalf("after the break: %+v %v, want offset 3000", at, err)
	}
	if _, err := s.WriteUpload(ctx, editor, p.File.ID, 0, bytes.NewReader(body)); code(err) != "uploads.offset_mismatch" {
		t.Fatalf("writing from 0 again: %v", err)
	}
	if _, err := s.FinishUpload(ctx, editor, p.File.ID); code(err) != "uploads.incomplete" {
		t.Fatalf("finishing early: %v", err)
	}
	if _, err := s.WriteUpload(ctx, editor, p.File.ID, 3000, bytes.NewReader(body[3000:])); err != nil {
		t.Fatal(err)
	}
	done, err := s.FinishUpload(ctx, editor, p.File.ID)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if f := done.File; f.State != file.Clean || f.SHA256 != hex.EncodeToString(sum[:]) || f.Size != int64(len(body)) || f.Key != "files/"+projectID+"/"+f.ID {
		t.Fatalf("finished %+v", f)
	}
	if !bytes.Equal(obj.objects[done.File.Key], body) || obj.objects["quarantine/"+p.File.ID] != nil {
		t.Fatal("the object was not moved out of quarantine intact")
	}
	again, err := s.FinishUpload(ctx, editor, p.File.ID)
	if err != nil || again.File.State != file.Clean || again.Offset != int64(len(body)) {
		t.Fatalf("finishing again: %+v %v", again, err)
	}
	if _, err := s.WriteUpload(ctx, editor, p.File.ID, int64(len(body)), strings.NewReader("x")); code(err) != "uploads.finished" {
		t.Fatalf("writing after the finish: %v", err)
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestResumable_Refusals(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(10_000)
	if _, err := s.CreateUpload(ctx, viewer, Upload{ProjectID: projectID, DeclaredSize: 5}); code(err) != "files.forbidden" {
		t.Errorf("a viewer: %v", err)
	}
	if _, err := s.CreateUpload(ctx, editor, Upload{ProjectID: projectID, DeclaredSize: 5 << 20}); code(err) != "files.too_large" {
		t.Errorf("beyond the resumable limit: %v", err)
	}
	if _, err := s.CreateUpload(ctx, editor, Upload{ProjectID: projectID, DeclaredSize: 20_000}); code(err) != "billing.plan_limit_reached" {
		t.Errorf("beyond the plan's storage: %v", err)
	}
	if _, err := s.CreateUpload(ctx, editor, Upload{ProjectID: projectID, DeclaredSize: -1}); code(err) != "uploads.length_invalid" {
		t.Errorf("a negative length: %v", err)
	}
	p := createUpload(t, s, 6000)
	// The storage is reserved for the whole announced length from the creation on.
	if _, err := s.CreateUpload(ctx, editor, Upload{ProjectID: projectID, DeclaredSize: 6000}); code(err) != "billing.plan_limit_reached" {
		t.Errorf("a second reservation beyond the plan: %v", err)
	}
	for _, who := range []caller.Caller{viewer, {UserID: "ed2"}} {
		if _, err := s.GetUpload(ctx, who, p.File.ID); code(err) != "uploads.not_found" {
			t.Errorf("%s sees another's upload: %v", who.UserID, err)
		}
		if _, err := s.WriteUpload(ctx, who, p.File.ID, 0, strings.NewReader("x")); code(err) != "uploads.not_found" {
			t.Errorf("%s writes another's upload: %v", who.UserID, err)
		}
	}
	if _, err := s.WriteUpload(ctx, editor, p.File.ID, 0, bytes.NewReader(make([]byte, 6001))); code(err) != "files.too_large" {
		t.Errorf("more bytes than announced: %v", err)
	}
	if _, err := s.GetUpload(ctx, editor, "not-an-id"); code(err) != "uploads.not_found" {
		t.Errorf("a malformed id: %v", err)
	}
}

func TestResumable_InfectedIsRecordedNotRefused(t *testing.T) {
	ctx := context.Background()
	s, st, obj := newService(1 << 30)
	body := append(bytes.Repeat([]byte("a"), 50_000), []byte("..VIRUS..")...)
	p := createUpload(t, s, int64(len(body)))
	if _, err := s.WriteUpload(ctx, editor, p.File.ID, 0, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	done, err := s.FinishUpload(ctx, editor, p.File.ID)
	if err != nil || done.File.State != file.Infected || done.File.Key != "" {
		t.Fatalf("finished %+v %v", done.File, err)
	}
	if len(obj.objects) != 0 {
		t.Fatalf("bytes left: %v", len(obj.objects))
	}
	if ev := st.published[len(st.published)-1]; ev.Envelope.Type != "file.infected" {
		t.Fatalf("audited %s", ev.Envelope.Type)
	}
	if _, err := s.DownloadLink(ctx, editor, p.File.ID, false); err == nil {
		t.Fatal("an infected upload is downloadable")
	}
}

// Writers racing on one upload at the same offset: one wins, the others are refused, and the stored
// bytes are exactly one writer's, never an interleaving.
func TestResumable_RacingWritersNeverInterleave(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 50; round++ {
		s, _, _ := newService(1 << 30)
		p := createUpload(t, s, 700)
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]error, 6)
		for w := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// As the gateway does: the write that completes the upload finishes it at once,
				// while the losers still hold the lock to learn they lost.
				got, err := s.WriteUpload(ctx, editor, p.File.ID, 0, bytes.NewReader(bytes.Repeat([]byte{byte('a' + w)}, 700)))
				if err == nil && got.Offset == 700 {
					_, err = s.FinishUpload(ctx, editor, p.File.ID)
				}
				results[w] = err
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range results {
			switch code(err) {
			case "":
				won++
			case "uploads.locked", "uploads.offset_mismatch", "uploads.finished":
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		done, err := s.GetUpload(ctx, editor, p.File.ID)
		if won != 1 || err != nil || done.File.State != file.Clean {
			t.Fatalf("round %d: %d writers won, finish %v", round, won, err)
		}
		data := s.Objects.(*memObjects).objects[done.File.Key]
		if len(data) != 700 || !bytes.Equal(data, bytes.Repeat(data[:1], 700)) {
			t.Fatalf("round %d: stored %d bytes, mixed: %q", round, len(data), data[:20])
		}
	}
}

func TestResumable_WorkerFinishesAndExpires(t *testing.T) {
	ctx := context.Background()
	s, st, _ := newService(1 << 30)
	complete := createUpload(t, s, 10)
	if _, err := s.WriteUpload(ctx, editor, complete.File.ID, 0, strings.NewReader("0123456789")); err != nil {
		t.Fatal(err)
	}
	stale := createUpload(t, s, 10)
	if n, err := s.FinishPending(ctx); err != nil || n != 1 || st.files[complete.File.ID].State != file.Clean {
		t.Fatalf("finished %d %v: %+v", n, err, st.files[complete.File.ID])
	}
	if n, err := s.ExpireAbandoned(ctx, time.Hour, time.Hour); err != nil || n != 0 {
		t.Fatalf("expired a fresh upload: %d %v", n, err)
	}
	s.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if n, err := s.ExpireAbandoned(ctx, time.Hour, 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("expired a resumable upload before its age: %d %v", n, err)
	}
	if n, err := s.ExpireAbandoned(ctx, time.Hour, time.Hour); err != nil || n != 1 {
		t.Fatalf("expired %d %v", n, err)
	}
	if _, ok := st.files[stale.File.ID]; ok {
		t.Fatal("the stale upload is still there")
	}
	if _, ok := s.Uploads.(*memUploads).uploads[stale.File.UploadID]; ok {
		t.Fatal("the stale upload's bytes are still there")
	}
}
