// Package file holds the rules of stored files: what a stored name may be, the states a file goes
// through (quarantined until scanned, then clean or infected), which content types are served inline,
// and the Content-Disposition a download carries. It knows nothing of S3, ClamAV or SQL.
package file

import (
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/acme/platform/services/platform/errs"
)

// States of a file.
const (
	// Quarantined: stored under the quarantine prefix, not yet scanned; nobody can download it.
	Quarantined = "quarantined"
	// Clean: scanned and passed; stored under the files prefix.
	Clean = "clean"
	// Infected: the scanner found something; its bytes are deleted, the record stays for the audit.
	Infected = "infected"
)

// File is one stored file of a project.
type File struct {
	ID           string
	ProjectID    string
	OwnerID      string // who uploaded it
	AccountID    string // whose plan pays for its storage: the project's owner at upload
	Name         string
	Size         int64
	SHA256       string
	ContentType  string // sniffed from the bytes
	DeclaredType string // what the client said
	State        string
	ScanResult   string // the scanner's verdict, such as "Eicar-Test-Signature FOUND"
	Key          string // the object's key in the bucket
	ThumbKey     string // the thumbnail's key, "" without one
	CreatedAt    time.Time
	// UploadID is the resumable upload's id in the upload store, "" for a synchronous upload. A
	// resumable file's Size is the length announced at its creation: its storage is reserved from
	// the start. Received is how much of it was stored, as of the last write.
	UploadID string
	Received int64
}

// Resumable reports whether f arrives in pieces and still takes them: quarantined, not yet scanned.
func (f File) Resumable() bool { return f.UploadID != "" && f.State == Quarantined }

// UploadedBy answers the upload to the one who started it, and to nobody else: everybody else is told
// it does not exist.
func (f File) UploadedBy(userID string) error {
	if f.UploadID == "" || f.OwnerID != userID {
		return errs.NotFound("uploads.not_found", "no such upload")
	}
	return nil
}

// Accepts checks that a write starting at offset continues the upload where it stands (current).
func (f File) Accepts(offset, current int64) error {
	if !f.Resumable() {
		return errs.Conflict("uploads.finished", "the upload is complete and takes no more bytes")
	}
	if offset != current {
		return errs.Conflict("uploads.offset_mismatch", "the upload stands at offset "+strconv.FormatInt(current, 10)+
			", not "+strconv.FormatInt(offset, 10)+"; continue from there")
	}
	return nil
}

// MaxNameBytes bounds a stored name.
const MaxNameBytes = 255

// SanitizeName makes a client's file name safe to store and to put in a header: the base name only
// (no directories, either separator), no control or format characters, no leading dots (no hidden
// or relative names), at most MaxNameBytes of valid UTF-8. Nothing usable left: "file".
func SanitizeName(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == '"':
			continue
		default:
			b.WriteRune(r)
		}
	}
	out := strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	for len(out) > MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(out)
		out = out[:len(out)-size]
	}
	if out == "" || out == "/" {
		return "file"
	}
	return out
}

// inline are the types served in the browser: raster images. SVG (scripts) and HTML never are.
var inline = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Inline reports whether a file of the sniffed type may be shown in the browser.
func Inline(contentType string) bool { return inline[contentType] }

// Thumbnailable reports whether a thumbnail is made for the type.
func Thumbnailable(contentType string) bool { return inline[contentType] }

// Disposition is the Content-Disposition of a download: inline for raster images, attachment for
// everything else, with the name as RFC 6266/5987 asks (an ASCII fallback and filename*=UTF-8”).
func Disposition(name, contentType string) string {
	kind := "attachment"
	if Inline(contentType) {
		kind = "inline"
	}
	fallback := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' || r == ';' {
			return '_'
		}
		return r
	}, name)
	return kind + `; filename="` + fallback + `"; filename*=UTF-8''` + pathEscape(name)
}

// pathEscape percent-encodes all but RFC 5987's attr-chars.
func pathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(url.PathEscape(string([]byte{c}))[1:]))
	}
	return b.String()
}

// Downloadable refuses anything but a clean file.
func (f File) Downloadable() error {
	switch f.State {
	case Clean:
		return nil
	case Infected:
		return errs.Conflict("files.infected", "the file was found infected and deleted")
	}
	return errs.Conflict("files.not_scanned", "the file is not scanned yet; try again shortly")
}

// ErrInfected is what an upload the scanner refused answers (HTTP 422 at the gateway).
func ErrInfected(verdict string) error {
	return &errs.Error{Kind: errs.KindUnprocessable, Code: "files.infected", Message: "the file was refused by the virus scan: " + verdict}
}

// ErrTooLarge is what an upload beyond the size limit answers (413).
func ErrTooLarge(limit int64) error {
	return &errs.Error{Kind: errs.KindTooLarge, Code: "files.too_large", Field: "file",
		Message: "an upload is at most " + formatBytes(limit)}
}

func formatBytes(n int64) string {
	const mib = 1 << 20
	if n >= mib {
		return strconv.FormatInt(n/mib, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
