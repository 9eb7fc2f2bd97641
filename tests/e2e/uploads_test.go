package e2e

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// maxResumable is the suite's resumable upload limit (files and gateway): above the free plan's
// 100 MiB of storage, so that the plan, not the limit, refuses a 150 MiB upload.
const maxResumable = 256 << 20

// tusMetadata is an Upload-Metadata header: keys with base64 values.
func tusMetadata(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// createUpload starts a resumable upload and answers its path (from Location).
func (a account) createUpload(t *testing.T, projectID, name string, length int) string {
	t.Helper()
	r := a.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", strconv.Itoa(length),
		"Upload-Metadata", tusMetadata("project_id", projectID, "filename", name)).expect(t, http.StatusCreated)
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.Path, "/v1/uploads/") || r.Header.Get("Tus-Resumable") != "1.0.0" {
		t.Fatalf("created at %q (%v), headers %v", r.Header.Get("Location"), err, r.Header)
	}
	return loc.Path
}

// tus sends a tus request: Tus-Resumable 1.0.0, the caller's token, and a body (PATCH bodies as
// application/offset+octet-stream) unless the extra headers say otherwise.
func (a account) tus(t *testing.T, method, path string, body []byte, extra ...string) reply {
	t.Helper()
	h := bearer(a.token)
	h["Tus-Resumable"] = "1.0.0"
	if method == "PATCH" {
		h["Content-Type"] = "application/offset+octet-stream"
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	var b any
	if body != nil {
		b = body
	}
	return request(t, method, path, b, h)
}

func (a account) uploadOffset(t *testing.T, path string) int {
	t.Helper()
	r := a.tus(t, "HEAD", path, nil).expect(t, http.StatusOK)
	n, err := strconv.Atoi(r.Header.Get("Upload-Offset"))
	if err != nil {
		t.Fatalf("Upload-Offset %q", r.Header.Get("Upload-Offset"))
	}
	return n
}

// breaking yields its bytes, then fails: the client's connection breaking mid-request.
type breaking struct{ r io.Reader }

func (b *breaking) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("the network went away")
	}
	return n, err
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// A 12 MiB upload (three S3 parts) breaks off after 7 MiB; the bytes that arrived are kept, a write
// from the wrong offset is refused, the rest from the offset HEAD says completes it, and the
// finished file is scanned, stored and downloadable with the same bytes.
func TestUploads_InterruptedUploadContinuesFromItsOffset(t *testing.T) {
	a := newAccount(t, "tus-resume")
	p, _ := a.createProject(t, map[string]any{"name": "Large Files"})
	data := randomBytes(12<<20, 7)
	path := a.createUpload(t, p.ID, "dataset.bin", len(data))
	if got := a.uploadOffset(t, path); got != 0 {
		t.Fatalf("a new upload stands at %d", got)
	}

	req, _ := http.NewRequest("PATCH", env.gatewayURL+path, &breaking{r: bytes.NewReader(data[:7<<20])})
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.ContentLength = int64(len(data)) // announced whole: the connection breaks before it is sent
	if resp, err := httpClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the broken write answered %d", resp.StatusCode)
	}
	var offset int
	// The gateway notices the break and hands on what arrived; the offset settles once it is stored.
	if !eventually(20*time.Second, 100*time.Millisecond, func() bool {
		offset = a.uploadOffset(t, path)
		return offset > 0 && a.tus(t, "PATCH", path, nil, "Upload-Offset", strconv.Itoa(offset)).Status == http.StatusNoContent
	}) {
		t.Fatalf("nothing of the broken write was kept (offset %d)", offset)
	}
	if offset < 1<<20 || offset > 7<<20 {
		t.Fatalf("offset %d after a write broken at 7 MiB", offset)
	}
	t.Logf("kept %d of the 7 MiB sent before the break", offset)
	a.tus(t, "PATCH", path, data[:10], "Upload-Offset", "0").expectError(t, http.StatusConflict, "uploads.offset_mismatch")

	r := a.tus(t, "PATCH", path, data[offset:], "Upload-Offset", strconv.Itoa(offset)).expect(t, http.StatusNoContent)
	id := strings.TrimPrefix(path, "/v1/uploads/")
	if r.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) || r.Header.Get("Acme-File-State") != "clean" || r.Header.Get("Acme-File-Id") != id {
		t.Fatalf("the last write answered %v", r.Header)
	}
	var out struct{ File fileView }
	a.do(t, "GET", "/v1/files/"+id+"/metadata", nil).expect(t, http.StatusOK).decode(t, &out)
	if f := out.File; f.State != "clean" || f.SHA256 != sum(data) || f.SizeBytes != int64(len(data)) || f.Name != "dataset.bin" ||
		f.ContentType != "application/octet-stream" {
		t.Fatalf("%+v", f)
	}
	if _, got := a.download(t, id, false); sum(got) != sum(data) {
		t.Fatalf("downloaded %d bytes that differ from the upload", len(got))
	}
	if a.uploadOffset(t, path) != len(data) {
		t.Fatal("a finished upload does not say it is complete")
	}
	// tus: a write at the end of a complete upload stores nothing and says where it stands.
	if r := a.tus(t, "PATCH", path, []byte("x"), "Upload-Offset", strconv.Itoa(len(data))).expect(t, http.StatusNoContent); r.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("a write past the end answered %v", r.Header)
	}
	auditRecordsWithin(t, 15*time.Second, url.Values{"subject": {id}, "type": {"file.uploaded"}},
		func(rs []auditRecord) bool { return len(rs) == 1 })
}

// A resumable upload of the EICAR file completes as an upload, and its file is infected: the last
// write says so, its bytes are gone and nothing can download it.
func TestUploads_InfectedResumableUploadIsRecordedInfected(t *testing.T) {
	a := newAccount(t, "tus-eicar")
	p, _ := a.createProject(t, map[string]any{"name": "Suspicious Uploads"})
	body := []byte(eicar)
	path := a.createUpload(t, p.ID, "report.pdf", len(body))
	a.tus(t, "PATCH", path, body[:20], "Upload-Offset", "0").expect(t, http.StatusNoContent)
	r := a.tus(t, "PATCH", path, body[20:], "Upload-Offset", "20").expect(t, http.StatusNoContent)
	if r.Header.Get("Acme-File-State") != "infected" {
		t.Fatalf("the last write answered %v", r.Header)
	}
	id := strings.TrimPrefix(path, "/v1/uploads/")
	a.do(t, "GET", "/v1/files/"+id, nil).expectError(t, http.StatusConflict, "files.infected")
	auditRecordsWithin(t, 15*time.Second, url.Values{"subject": {id}, "type": {"file.infected"}},
		func(rs []auditRecord) bool { return len(rs) == 1 })
}

// Only an editor starts an upload, only its starter sees and continues it, a termination removes it,
// and the plan's storage is reserved for the announced length: beyond the free plan's 100 MiB, the
// creation is refused with 402 before a byte is sent.
func TestUploads_WhoMayAndThePlansStorage(t *testing.T) {
	owner := newAccount(t, "tus-owner")
	p, _ := owner.createProject(t, map[string]any{"name": "Shared Uploads"})
	viewer, editor, outsider := newAccount(t, "tus-viewer"), newAccount(t, "tus-editor"), newAccount(t, "tus-outsider")
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": viewer.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": editor.ID, "role": "editor"}).expect(t, http.StatusCreated)
	meta := tusMetadata("project_id", p.ID, "filename", "x.bin")
	viewer.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", "10", "Upload-Metadata", meta).expectError(t, http.StatusForbidden, "files.forbidden")
	outsider.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", "10", "Upload-Metadata", meta).expectError(t, http.StatusNotFound, "project.not_found")

	path := owner.createUpload(t, p.ID, "owners.bin", 10)
	for _, other := range []account{editor, viewer, outsider} {
		other.tus(t, "HEAD", path, nil).expect(t, http.StatusNotFound)
		other.tus(t, "PATCH", path, []byte("0123456789"), "Upload-Offset", "0").expectError(t, http.StatusNotFound, "uploads.not_found")
		other.tus(t, "DELETE", path, nil).expectError(t, http.StatusNotFound, "uploads.not_found")
	}
	owner.tus(t, "PATCH", path, []byte("01234"), "Upload-Offset", "0").expect(t, http.StatusNoContent)
	owner.tus(t, "DELETE", path, nil).expect(t, http.StatusNoContent)
	owner.tus(t, "HEAD", path, nil).expect(t, http.StatusNotFound)

	owner.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", strconv.Itoa(150<<20), "Upload-Metadata", meta).
		expectError(t, http.StatusPaymentRequired, "billing.plan_limit_reached")
	first := owner.createUpload(t, p.ID, "half.bin", 60<<20)
	owner.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", strconv.Itoa(60<<20), "Upload-Metadata", meta).
		expectError(t, http.StatusPaymentRequired, "billing.plan_limit_reached")
	owner.tus(t, "DELETE", first, nil).expect(t, http.StatusNoContent) // the reservation goes with it
	owner.tus(t, "DELETE", owner.createUpload(t, p.ID, "again.bin", 60<<20), nil).expect(t, http.StatusNoContent)
}

// Writers racing on one upload at the same offset: exactly one is stored, the others are refused
// (uploads.locked while it writes, offset_mismatch after), and the file holds one writer's bytes.
// The winner's write also finishes the upload while losers may hold its lock: that once answered the
// winner 409 (1 round in about 20), so the finish now waits for the lock.
func TestUploads_RacingWritesStoreOneWriter(t *testing.T) {
	a := newAccount(t, "tus-race")
	p, _ := a.createProject(t, map[string]any{"name": "Raced Uploads"})
	for round := 0; round < 20; round++ {
		const size = 256 << 10
		path := a.createUpload(t, p.ID, "raced.bin", size)
		bodies := make([][]byte, 6)
		statuses := make([]reply, len(bodies))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range bodies {
			bodies[i] = randomBytes(size, uint64(100*round+i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				statuses[i] = a.tus(t, "PATCH", path, bodies[i], "Upload-Offset", "0")
			}()
		}
		close(start)
		wg.Wait()
		won := -1
		for i, r := range statuses {
			switch {
			case r.Status == http.StatusNoContent && won < 0:
				won = i
			case r.Status == http.StatusNoContent:
				t.Fatalf("round %d: writers %d and %d both stored", round, won, i)
			case r.Status == http.StatusConflict:
				var e errorBody
				r.decode(t, &e)
				if e.Error.Code != "uploads.locked" && e.Error.Code != "uploads.offset_mismatch" && e.Error.Code != "uploads.finished" {
					t.Fatalf("round %d: %s", round, r.Body)
				}
			default:
				t.Fatalf("round %d: writer %d got %d %s", round, i, r.Status, r.Body)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no writer stored", round)
		}
		var out struct{ File fileView }
		a.do(t, "GET", "/v1/files/"+strings.TrimPrefix(path, "/v1/uploads/")+"/metadata", nil).expect(t, http.StatusOK).decode(t, &out)
		if out.File.State != "clean" || out.File.SHA256 != sum(bodies[won]) {
			t.Fatalf("round %d: the file is %+v, not writer %d's bytes", round, out.File, won)
		}
	}
}

// Every tus refusal is the platform's error body with a machine-readable code.
func TestUploads_BadInput(t *testing.T) {
	a := newAccount(t, "tus-bad")
	p, _ := a.createProject(t, map[string]any{"name": "Bad Uploads"})
	meta := tusMetadata("project_id", p.ID, "filename", "x.bin")
	a.tus(t, "POST", "/v1/uploads", nil, "Tus-Resumable", "0.2.2", "Upload-Length", "10", "Upload-Metadata", meta).
		expectError(t, http.StatusPreconditionFailed, "uploads.version_unsupported")
	a.tus(t, "POST", "/v1/uploads", nil, "Upload-Metadata", meta).expectError(t, http.StatusBadRequest, "uploads.length_invalid")
	a.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", "-5", "Upload-Metadata", meta).expectError(t, http.StatusBadRequest, "uploads.length_invalid")
	a.tus(t, "POST", "/v1/uploads", nil, "Upload-Defer-Length", "1", "Upload-Metadata", meta).expectError(t, http.StatusBadRequest, "uploads.not_supported")
	a.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", strconv.Itoa(maxResumable+1), "Upload-Metadata", meta).
		expectError(t, http.StatusRequestEntityTooLarge, "files.too_large")
	a.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", "10", "Upload-Metadata", tusMetadata("filename", "x.bin")).
		expectError(t, http.StatusBadRequest, "request.field_required")
	a.tus(t, "POST", "/v1/uploads", nil, "Upload-Length", "10", "Upload-Metadata", tusMetadata("project_id", "nope")).
		expectError(t, http.StatusNotFound, "project.not_found")

	path := a.createUpload(t, p.ID, "x.bin", 10)
	a.tus(t, "PATCH", path, []byte("0123"), "Upload-Offset", "0", "Content-Type", "application/json").
		expectError(t, http.StatusUnsupportedMediaType, "request.unsupported_media_type")
	a.tus(t, "PATCH", path, []byte("0123")).expectError(t, http.StatusBadRequest, "uploads.offset_invalid")
	a.tus(t, "PATCH", path, []byte("0123"), "Upload-Offset", "-1").expectError(t, http.StatusBadRequest, "uploads.offset_invalid")
	a.tus(t, "PATCH", path, []byte("0123"), "Upload-Offset", "4").expectError(t, http.StatusConflict, "uploads.offset_mismatch")
	a.tus(t, "PATCH", path, []byte("0123456789AB"), "Upload-Offset", "0").expectError(t, http.StatusRequestEntityTooLarge, "files.too_large")
	a.tus(t, "PATCH", "/v1/uploads/not-an-id", []byte("0"), "Upload-Offset", "0").expectError(t, http.StatusNotFound, "uploads.not_found")
	a.tus(t, "HEAD", "/v1/uploads/5f0b6c1e-0000-4000-8000-000000000009", nil).expect(t, http.StatusNotFound)
	a.tus(t, "DELETE", path, nil).expect(t, http.StatusNoContent)
}
