package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// maxUpload is the suite's upload limit (files and gateway).
const maxUpload = 8 << 20

type fileView struct {
	ID           string    `json:"id"`
	ProjectID    string    `json:"project_id"`
	OwnerID      string    `json:"owner_id"`
	Name         string    `json:"name"`
	SizeBytes    int64     `json:"size_bytes"`
	SHA256       string    `json:"sha256"`
	ContentType  string    `json:"content_type"`
	DeclaredType string    `json:"declared_type"`
	State        string    `json:"state"`
	HasThumbnail bool      `json:"has_thumbnail"`
	CreatedAt    time.Time `json:"created_at"`
}

// multipartBody is a multipart/form-data body with one part named file.
func multipartBody(t *testing.T, name, ctype string, data []byte) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name)))
	h.Set("Content-Type", ctype)
	part, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(data)
	w.Close()
	return w.FormDataContentType(), b.Bytes()
}

func (a account) upload(t *testing.T, projectID, name, ctype string, data []byte) reply {
	t.Helper()
	ct, body := multipartBody(t, name, ctype, data)
	h := bearer(a.token)
	h["Content-Type"] = ct
	return request(t, "POST", "/v1/projects/"+projectID+"/files", body, h)
}

func (a account) uploadOK(t *testing.T, projectID, name, ctype string, data []byte) fileView {
	t.Helper()
	var out struct{ File fileView }
	a.upload(t, projectID, name, ctype, data).expect(t, http.StatusCreated).decode(t, &out)
	return out.File
}

var noRedirects = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// download asks the gateway for a file's link (checking the redirect against the contract), then
// fetches the link as a browser would.
func (a account) download(t *testing.T, id string, thumbnail bool) (*http.Response, []byte) {
	t.Helper()
	path := "/v1/files/" + id
	if thumbnail {
		path += "?thumbnail=true"
	}
	req, _ := http.NewRequest("GET", env.gatewayURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkContract(t, req, resp.StatusCode, resp.Header, body)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(resp.Header.Get("Cache-Control"), "private") {
		t.Errorf("the redirect's headers: %v", resp.Header)
	}
	link, err := httpClient.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	defer link.Body.Close()
	data, _ := io.ReadAll(link.Body)
	if link.StatusCode != http.StatusOK {
		t.Fatalf("the signed link answered %d: %s", link.StatusCode, data)
	}
	return link, data
}

// pngWithEXIF is a PNG whose eXIf chunk holds a GPS position, as a phone's photo would.
func pngWithEXIF(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	exif := []byte("MM\x00\x2a\x00\x00\x00\x08GPSLatitude=48.8584N;GPSLongitude=2.2945E")
	chunk := make([]byte, 0, len(exif)+12)
	chunk = binary.BigEndian.AppendUint32(chunk, uint32(len(exif)))
	chunk = append(chunk, "eXIf"...)
	chunk = append(chunk, exif...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(append([]byte("eXIf"), exif...)))
	const afterIHDR = 8 + 25 // signature, then IHDR (length, type, 13 bytes, CRC)
	return append(append(append([]byte{}, raw[:afterIHDR]...), chunk...), raw[afterIHDR:]...)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A clean PNG: stored once scanned, its sniffed type kept, a thumbnail made from the pixels alone
// (no EXIF, no GPS), and the signed download returns exactly the bytes uploaded.
func TestFiles_CleanImageScannedThumbnailedAndDownloaded(t *testing.T) {
	a := newAccount(t, "files-png")
	p, _ := a.createProject(t, map[string]any{"name": "Photos"})
	data := pngWithEXIF(t, 640, 480)
	f := a.uploadOK(t, p.ID, "../../etc/tour eiffel.png", "image/png", data)
	if f.State != "clean" || f.ContentType != "image/png" || f.SizeBytes != int64(len(data)) || f.SHA256 != sum(data) ||
		!f.HasThumbnail || f.Name != "tour eiffel.png" || f.OwnerID != a.ID {
		t.Fatalf("%+v", f)
	}
	link, got := a.download(t, f.ID, false)
	if sum(got) != sum(data) {
		t.Fatalf("downloaded %d bytes that differ from the upload", len(got))
	}
	if cd := link.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline") || link.Header.Get("Content-Type") != "image/png" {
		t.Errorf("image served with %q, %q", cd, link.Header.Get("Content-Type"))
	}
	_, thumb := a.download(t, f.ID, true)
	img, err := png.Decode(bytes.NewReader(thumb))
	if err != nil {
		t.Fatalf("the thumbnail is no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 192 {
		t.Errorf("thumbnail %v", b)
	}
	if bytes.Contains(thumb, []byte("eXIf")) || bytes.Contains(thumb, []byte("GPS")) {
		t.Error("the thumbnail carries the original's EXIF")
	}
	auditRecordsWithin(t, 15*time.Second, url.Values{"subject": {f.ID}, "type": {"file.uploaded"}},
		func(rs []auditRecord) bool { return len(rs) == 1 })
}

const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// The EICAR test file is refused, its bytes deleted, never downloadable, and audited.
func TestFiles_InfectedUploadRefusedAndNeverDownloadable(t *testing.T) {
	a := newAccount(t, "files-eicar")
	p, _ := a.createProject(t, map[string]any{"name": "Suspicious"})
	a.upload(t, p.ID, "invoice.pdf", "application/pdf", []byte(eicar)).expectError(t, 422, "files.infected")
	var list struct{ Files []fileView }
	a.do(t, "GET", "/v1/projects/"+p.ID+"/files", nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Files) != 1 || list.Files[0].State != "infected" {
		t.Fatalf("%+v", list.Files)
	}
	a.do(t, "GET", "/v1/files/"+list.Files[0].ID, nil).expectError(t, http.StatusConflict, "files.infected")
	rs := auditRecordsWithin(t, 15*time.Second, url.Values{"subject": {list.Files[0].ID}, "type": {"file.infected"}},
		func(rs []auditRecord) bool { return len(rs) == 1 })
	if rs[0].Outcome != "denied" || !strings.Contains(rs[0].Details["verdict"], "FOUND") {
		t.Fatalf("%+v", rs[0])
	}
}

// The bytes decide the type, not the client: PNG bytes called text are an image; HTML called an
// image is HTML, and HTML (like anything but raster images) is served as an attachment, its name
// encoded.
func TestFiles_SniffedTypeAndAttachments(t *testing.T) {
	a := newAccount(t, "files-sniff")
	p, _ := a.createProject(t, map[string]any{"name": "Mixed"})
	f := a.uploadOK(t, p.ID, "notes.txt", "text/plain", pngWithEXIF(t, 8, 8))
	if f.ContentType != "image/png" || f.DeclaredType != "text/plain" {
		t.Fatalf("%+v", f)
	}
	html := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	h := a.uploadOK(t, p.ID, "Résumé \"final\".html", "image/png", html)
	if !strings.HasPrefix(h.ContentType, "text/html") || h.HasThumbnail {
		t.Fatalf("%+v", h)
	}
	link, got := a.download(t, h.ID, false)
	cd := link.Header.Get("Content-Disposition")
	if !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "filename*=UTF-8''R%C3%A9sum%C3%A9%20final.html") || !bytes.Equal(got, html) {
		t.Fatalf("HTML served with Content-Disposition %q", cd)
	}
}

// An upload whose length announces more than the limit is refused before its body is read: the
// client sends the headers and a few bytes of a gigabyte, and the answer comes anyway.
func TestFiles_OversizedUploadRefusedWithoutBuffering(t *testing.T) {
	a := newAccount(t, "files-big")
	p, _ := a.createProject(t, map[string]any{"name": "Big"})
	u, _ := url.Parse(env.gatewayURL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/projects/%s/files HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: %d\r\n\r\n--x\r\n", p.ID, u.Host, a.token, int64(1)<<30)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body was still coming: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "files.too_large") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// A body that does not announce its length is counted as it streams.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, _ := mw.CreateFormFile("file", "big.bin")
		chunk := bytes.Repeat([]byte{0x5a}, 64<<10)
		for range (maxUpload / len(chunk)) + 4 {
			if _, err := part.Write(chunk); err != nil {
				break
			}
		}
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", env.gatewayURL+"/v1/projects/"+p.ID+"/files", pr)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp2, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body2, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe)
	if resp2.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body2), "files.too_large") {
		t.Fatalf("streamed oversize: %d %s", resp2.StatusCode, body2)
	}
	var list struct{ Files []fileView }
	a.do(t, "GET", "/v1/projects/"+p.ID+"/files", nil).expect(t, http.StatusOK).decode(t, &list)
	if len(list.Files) != 0 {
		t.Fatalf("an oversized upload left %+v", list.Files)
	}
}

// Only editors and up upload and delete; viewers download; outsiders see nothing of a private
// project's files.
func TestFiles_WhoMayUploadAndDownload(t *testing.T) {
	owner := newAccount(t, "files-owner")
	p, _ := owner.createProject(t, map[string]any{"name": "Private Files"})
	viewer, outsider := newAccount(t, "files-viewer"), newAccount(t, "files-outsider")
	owner.do(t, "POST", "/v1/projects/"+p.ID+"/members", map[string]any{"user_id": viewer.ID, "role": "viewer"}).expect(t, http.StatusCreated)
	f := owner.uploadOK(t, p.ID, "plan.txt", "text/plain", []byte("the plan"))

	viewer.upload(t, p.ID, "mine.txt", "text/plain", []byte("x")).expectError(t, http.StatusForbidden, "files.forbidden")
	outsider.upload(t, p.ID, "mine.txt", "text/plain", []byte("x")).expectError(t, http.StatusNotFound, "project.not_found")
	if _, got := viewer.download(t, f.ID, false); string(got) != "the plan" {
		t.Fatalf("viewer got %q", got)
	}
	outsider.do(t, "GET", "/v1/files/"+f.ID, nil).expectError(t, http.StatusNotFound, "files.not_found")
	outsider.do(t, "GET", "/v1/files/"+f.ID+"/metadata", nil).expectError(t, http.StatusNotFound, "files.not_found")
	outsider.do(t, "GET", "/v1/projects/"+p.ID+"/files", nil).expectError(t, http.StatusNotFound, "project.not_found")
	viewer.do(t, "DELETE", "/v1/files/"+f.ID, nil).expectError(t, http.StatusForbidden, "files.forbidden")
	// file.uploaded reached billing's usage (the owner's plan pays); file.deleted takes it back.
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool { return owner.usage(t)["storage_bytes"] == f.SizeBytes }) {
		t.Fatalf("storage usage %v, want %d", owner.usage(t), f.SizeBytes)
	}
	owner.do(t, "DELETE", "/v1/files/"+f.ID, nil).expect(t, http.StatusNoContent)
	owner.do(t, "GET", "/v1/files/"+f.ID, nil).expectError(t, http.StatusNotFound, "files.not_found")
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool { return owner.usage(t)["storage_bytes"] == 0 }) {
		t.Fatalf("storage usage after the delete: %v", owner.usage(t))
	}
}

// Listing pages by cursor; deleting a project removes its files (project.deleted).
func TestFiles_ListPagesAndProjectDeletionRemovesFiles(t *testing.T) {
	a := newAccount(t, "files-list")
	p, _ := a.createProject(t, map[string]any{"name": "Many Files"})
	var ids []string
	for i := range 5 {
		ids = append(ids, a.uploadOK(t, p.ID, fmt.Sprintf("f%d.txt", i), "text/plain", []byte(fmt.Sprint("content ", i))).ID)
	}
	var seen []string
	token := ""
	for pages := 0; pages < 10; pages++ {
		q := "/v1/projects/" + p.ID + "/files?page_size=2"
		if token != "" {
			q += "&page_token=" + url.QueryEscape(token)
		}
		var page struct {
			Files         []fileView
			NextPageToken string `json:"next_page_token"`
		}
		a.do(t, "GET", q, nil).expect(t, http.StatusOK).decode(t, &page)
		for _, f := range page.Files {
			seen = append(seen, f.ID)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(seen) != 5 || seen[0] != ids[4] || seen[4] != ids[0] {
		t.Fatalf("pages gave %v for %v", seen, ids)
	}
	a.do(t, "DELETE", "/v1/projects/"+p.ID, nil).expect(t, http.StatusNoContent)
	if !eventually(15*time.Second, 100*time.Millisecond, func() bool {
		return a.do(t, "GET", "/v1/files/"+ids[0]+"/metadata", nil).Status == http.StatusNotFound
	}) {
		t.Fatal("the deleted project's files are still there")
	}
}

func TestFiles_BadInput(t *testing.T) {
	a := newAccount(t, "files-bad")
	p, _ := a.createProject(t, map[string]any{"name": "Bad Uploads"})
	path := "/v1/projects/" + p.ID + "/files"
	h := bearer(a.token)
	h["Content-Type"] = "application/json"
	request(t, "POST", path, `{"file":"x"}`, h).expectError(t, http.StatusUnsupportedMediaType, "request.unsupported_media_type")
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("note", "no file here")
	w.Close()
	h["Content-Type"] = w.FormDataContentType()
	request(t, "POST", path, b.Bytes(), h).expectError(t, http.StatusBadRequest, "request.field_required")
	h["Content-Type"] = "multipart/form-data; boundary=nope"
	request(t, "POST", path, "garbage", h).expectError(t, http.StatusBadRequest, "request.field_required")
	a.upload(t, uuid.NewString(), "a.txt", "text/plain", []byte("x")).expectError(t, http.StatusNotFound, "project.not_found")
	a.upload(t, "not-an-id", "a.txt", "text/plain", []byte("x")).expectError(t, http.StatusNotFound, "project.not_found")
	a.do(t, "GET", "/v1/files/nope", nil).expectError(t, http.StatusNotFound, "files.not_found")
	a.do(t, "GET", "/v1/files/"+uuid.NewString()+"/metadata", nil).expectError(t, http.StatusNotFound, "files.not_found")
	a.do(t, "DELETE", "/v1/files/"+uuid.NewString(), nil).expectError(t, http.StatusNotFound, "files.not_found")
	a.do(t, "GET", path+"?page_size=0", nil).expectError(t, http.StatusBadRequest, "request.query_invalid")
	a.do(t, "GET", path+"?page_token=garbage", nil).expectError(t, http.StatusBadRequest, "files.page_token_invalid")
	a.do(t, "GET", "/v1/files/"+uuid.NewString()+"?thumbnail=maybe", nil).expectError(t, http.StatusBadRequest, "request.query_invalid")
	// A file named only with dots and separators is stored under a safe name.
	if f := a.uploadOK(t, p.ID, "../..", "text/plain", []byte("dots")); f.Name != "file" {
		t.Fatalf("stored as %q", f.Name)
	}
}
