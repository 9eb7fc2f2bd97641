// Package user holds the account rules: what a valid email, password, display name and region are.
// It knows nothing of storage or transport.
package user

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/acme/platform/services/platform/errs"
)

// Roles a user holds on the platform.
const (
	RoleMember = "member"
	RoleAdmin  = "admin"
)

// Regions where a user's data may live; fixed at registration.
const (
	RegionUS = "us"
	RegionEU = "eu"
)

// Limits on input, enforced here and again at the gateway's edge.
const (
	MaxEmailLength       = 254
	MinPasswordLength    = 12
	MaxPasswordLength    = 128
	MaxDisplayNameLength = 100
)

// User is an account.
type User struct {
	ID            string
	Email         string
	DisplayName   string
	Region        string
	Roles         []string
	CreatedAt     time.Time
	EmailVerified bool
}

// Registration is a validated request to open an account.
type Registration struct {
	Email       string
	Password    string
	DisplayName string
	Region      string
}

// NewRegistration validates and normalises the inputs of a registration.
func NewRegistration(email, password, displayName, region string) (Registration, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return Registration{}, err
	}
	name := strings.TrimSpace(displayName)
	switch {
	case name == "":
		return Registration{}, errs.Invalid("user.display_name_required", "display_name", "display_name is required")
	case utf8.RuneCountInString(name) > MaxDisplayNameLength:
		return Registration{}, errs.Invalid("user.display_name_too_long", "display_name", "display_name is longer than 100 characters")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return Registration{}, errs.Invalid("user.display_name_invalid", "display_name", "display_name contains control characters")
	}
	if region != RegionUS && region != RegionEU {
		return Registration{}, errs.Invalid("user.region_invalid", "region", `region must be "us" or "eu"`)
	}
	if err := CheckPassword(password, e); err != nil {
		return Registration{}, err
	}
	return Registration{Email: e, Password: password, DisplayName: name, Region: region}, nil
}

// NormalizeEmail trims an address, applies Unicode NFKC and case folding (so two addresses that
// look the same are one: "ＡＤＡ@example.com", "ADA@example.com" and "ada@example.com"), and checks it
// is one plain address with a domain.
func NormalizeEmail(email string) (string, error) {
	e := cases.Fold().String(norm.NFKC.String(strings.TrimSpace(email)))
	e = norm.NFKC.String(e) // folding can leave a form NFKC would change
	if e == "" {
		return "", errs.Invalid("user.email_required", "email", "email is required")
	}
	if len(e) > MaxEmailLength {
		return "", errs.Invalid("user.email_invalid", "email", "email is longer than 254 characters")
	}
	addr, err := mail.ParseAddress(e)
	at := strings.LastIndexByte(e, '@')
	if err != nil || addr.Address != e || at < 1 || !strings.Contains(e[at+1:], ".") || strings.HasSuffix(e, ".") {
		return "", errs.Invalid("user.email_invalid", "email", "email is not a valid address")
	}
	return e, nil
}

// commonPasswords are refused whatever their length; the head of every breached-password list.
var commonPasswords = map[string]bool{
	"password1234": true, "123456789012": true, "qwertyuiopas": true, "passwordpassword": true,
	"iloveyou1234": true, "letmein12345": true, "administrator": true, "welcome12345": true,
}

// CheckPassword enforces the password policy: 12 to 128 characters, not a well-known password, not
// one repeated character, and not containing the email's local part.
func CheckPassword(password, email string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		return errs.Invalid("user.password_too_short", "password", "password must be at least 12 characters")
	case n > MaxPasswordLength:
		return errs.Invalid("user.password_too_long", "password", "password must be at most 128 characters")
	case !utf8.ValidString(password):
		return errs.Invalid("user.password_invalid", "password", "password is not valid UTF-8")
	}
	lower := strings.ToLower(password)
	if commonPasswords[lower] || strings.Count(lower, string([]rune(lower)[0])) == n {
		return errs.Invalid("user.password_weak", "password", "password is too easy to guess")
	}
	if at := strings.IndexByte(email, '@'); at >= 4 && strings.Contains(lower, email[:at]) {
		return errs.Invalid("user.password_weak", "password", "password must not contain your email address")
	}
	return nil
}

// HasRole reports whether u holds role.
func (u User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}
