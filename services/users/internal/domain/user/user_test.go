package user

import (
	"errors"
	"strings"
	"testing"

	"github.com/acme/platform/services/platform/errs"
)

func TestNewRegistration_NormalisesValidInput(t *testing.T) {
	r, err := NewRegistration("  Ada@Example.COM ", "correct horse battery", "  Ada Lovelace ", "eu")
	if err != nil {
		t.Fatal(err)
	}
	if r.Email != "ada@example.com" || r.DisplayName != "Ada Lovelace" || r.Region != "eu" {
		t.Fatalf("got %+v", r)
	}
}

func TestNewRegistration_RejectsBadInput(t *testing.T) {
	long := strings.Repeat("a", 250) + "@example.com"
	cases := []struct {
		name                             string
		email, password, display, region string
		code, field                      string
	}{
		{"empty email", "", "correct horse battery", "Ada", "us", "user.email_required", "email"},
		{"no at", "ada.example.com", "correct horse battery", "Ada", "us", "user.email_invalid", "email"},
		{"display form", "Ada <ada@example.com>", "correct horse battery", "Ada", "us", "user.email_invalid", "email"},
		{"no domain dot", "ada@localhost", "correct horse battery", "Ada", "us", "user.email_invalid", "email"},
		{"too long email", long, "correct horse battery", "Ada", "us", "user.email_invalid", "email"},
		{"short password", "ada@example.com", "short", "Ada", "us", "user.password_too_short", "password"},
		{"long password", "ada@example.com", strings.Repeat("x1", 65), "Ada", "us", "user.password_too_long", "password"},
		{"common password", "ada@example.com", "Password1234", "Ada", "us", "user.password_weak", "password"},
		{"repeated char", "ada@example.com", "aaaaaaaaaaaaaa", "Ada", "us", "user.password_weak", "password"},
		{"contains email", "lovelace@example.com", "my-lovelace-secret", "Ada", "us", "user.password_weak", "password"},
		{"empty name", "ada@example.com", "correct horse battery", "   ", "us", "user.display_name_required", "display_name"},
		{"long name", "ada@example.com", "correct horse battery", strings.Repeat("n", 101), "us", "user.display_name_too_long", "display_name"},
		{"control in name", "ada@example.com", "correct horse battery", "Ada\x00", "us", "user.display_name_invalid", "display_name"},
		{"bad region", "ada@example.com", "correct horse battery", "Ada", "asia", "user.region_invalid", "region"},
		{"empty region", "ada@example.com", "correct horse battery", "Ada", "", "user.region_invalid", "region"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRegistration(tc.email, tc.password, tc.display, tc.region)
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("want a domain error, got %v", err)
			}
			if e.Kind != errs.KindInvalid || e.Code != tc.code || e.Field != tc.field {
				t.Fatalf("got kind %v code %q field %q, want %q %q", e.Kind, e.Code, e.Field, tc.code, tc.field)
			}
		})
	}
}

// Issue 11, "also": addresses that look the same are one account.
func TestNormalizeEmail_UnicodeLookalikesAreOne(t *testing.T) {
	for _, in := range []string{"ada@example.com", " ADA@Example.COM ", "\uff21\uff24\uff21@example.com", "ada@\uff45xample.com"} {
		got, err := NormalizeEmail(in)
		if err != nil || got != "ada@example.com" {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	if got, _ := NormalizeEmail("STRASSE@example.com"); got != "strasse@example.com" {
		t.Errorf("%q", got)
	}
	if got, _ := NormalizeEmail("Straße@example.com"); got != "strasse@example.com" {
		t.Errorf("full case folding: %q", got)
	}
}
