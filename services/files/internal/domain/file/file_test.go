package file

import (
	"strings"
	"testing"

	"github.com/acme/platform/services/platform/errs"
)

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":               "report.pdf",
		"../../etc/passwd":         "passwd",
		`C:\Users\ada\photo.jpg`:   "photo.jpg",
		".htaccess":                "htaccess",
		"..":                       "file",
		"":                         "file",
		"a\x00b\x1fc\u202ed.txt":   "abcd.txt",
		"  tab\tand\nnewline.md  ": "tab and newline.md",
		`say "hi".txt`:             "say hi.txt",
		"Résumé.html":              "Résumé.html",
		"bad\xffutf8.txt":          "badutf8.txt",
		strings.Repeat("é", 200):   strings.Repeat("é", 127),
	} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDisposition(t *testing.T) {
	cases := []struct{ name, ctype, want string }{
		{"photo.png", "image/png", `inline; filename="photo.png"; filename*=UTF-8''photo.png`},
		{"logo.svg", "image/svg+xml", `attachment; filename="logo.svg"; filename*=UTF-8''logo.svg`},
		{"page.html", "text/html", `attachment; filename="page.html"; filename*=UTF-8''page.html`},
		{"Résumé final.pdf", "application/pdf", `attachment; filename="R_sum_ final.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf`},
		{`a;b%c.txt`, "text/plain", `attachment; filename="a_b_c.txt"; filename*=UTF-8''a%3Bb%25c.txt`},
	}
	for _, tc := range cases {
		if got := Disposition(tc.name, tc.ctype); got != tc.want {
			t.Errorf("Disposition(%q, %q) = %q, want %q", tc.name, tc.ctype, got, tc.want)
		}
	}
}

func TestDownloadable(t *testing.T) {
	if err := (File{State: Clean}).Downloadable(); err != nil {
		t.Fatal(err)
	}
	if err := (File{State: Infected}).Downloadable(); errs.As(err).Code != "files.infected" {
		t.Fatal(err)
	}
	if err := (File{State: Quarantined}).Downloadable(); errs.As(err).Code != "files.not_scanned" {
		t.Fatal(err)
	}
	if e := errs.As(ErrInfected("X FOUND")); e.Kind != errs.KindUnprocessable {
		t.Fatal(e)
	}
}
