// Package project holds the rules of projects and their members: valid names, slugs, tags and
// visibility; what each role may do; and that a project always keeps an owner.
package project

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/acme/platform/services/platform/errs"
)

// Visibility says who may see a project: private (members), internal (signed-in users), public.
type Visibility string

const (
	Private  Visibility = "private"
	Internal Visibility = "internal"
	Public   Visibility = "public"
)

// ParseVisibility reads a visibility; "" means private.
func ParseVisibility(s string) (Visibility, error) {
	switch v := Visibility(s); v {
	case "":
		return Private, nil
	case Private, Internal, Public:
		return v, nil
	}
	return "", errs.Invalid("project.visibility_invalid", "visibility", "visibility must be private, internal or public")
}

// Limits on input, enforced here and at the gateway's edge.
const (
	MaxNameLength        = 100
	MaxDescriptionLength = 2000
	MaxTags              = 20
	MaxTagLength         = 32
)

var (
	slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)
	tagPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
)

// Project is a workspace owned by users with roles.
type Project struct {
	ID          string
	OwnerID     string
	Name        string
	Slug        string
	Description string
	Visibility  Visibility
	Tags        []string
	Settings    map[string]any
	Archived    bool
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// CheckName validates a display name: 1 to 100 characters, no control characters.
func CheckName(name string) (string, error) {
	n := strings.TrimSpace(name)
	switch {
	case n == "":
		return "", errs.Invalid("project.name_required", "name", "name is required")
	case utf8.RuneCountInString(n) > MaxNameLength:
		return "", errs.Invalid("project.name_too_long", "name", "name is longer than 100 characters")
	case strings.IndexFunc(n, unicode.IsControl) >= 0:
		return "", errs.Invalid("project.name_invalid", "name", "name contains control characters")
	}
	return n, nil
}

// CheckSlug validates a URL name: lower-case letters, digits and inner hyphens, 1 to 63 characters.
func CheckSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return errs.Invalid("project.slug_invalid", "slug", "slug must be 1-63 lower-case letters, digits or inner hyphens")
	}
	return nil
}

// Slugify derives a slug from a name, for creations that give none.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if b.Len() >= 63 {
			break
		}
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "project"
	}
	return s
}

// CheckDescription bounds the description.
func CheckDescription(d string) error {
	if utf8.RuneCountInString(d) > MaxDescriptionLength {
		return errs.Invalid("project.description_too_long", "description", "description is longer than 2000 characters")
	}
	if !utf8.ValidString(d) {
		return errs.Invalid("project.description_invalid", "description", "description is not valid UTF-8")
	}
	return nil
}

// NormalizeTags lower-cases, deduplicates and sorts tags and checks each.
func NormalizeTags(tags []string) ([]string, error) {
	seen := map[string]bool{}
	out := []string{}
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if !tagPattern.MatchString(t) {
			return nil, errs.Invalid("project.tag_invalid", "tags", "each tag must be 1-32 lower-case letters, digits or hyphens")
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, errs.Invalid("project.too_many_tags", "tags", "a project has at most 20 tags")
	}
	sort.Strings(out)
	return out, nil
}

// Bump advances the version for one more event and returns it; each event of a project carries
// the version it made.
func (p *Project) Bump(now time.Time) int64 {
	p.Version++
	p.UpdatedAt = now
	return p.Version
}

// CheckVersion refuses a change made from a version other than the current one (If-Match).
func (p Project) CheckVersion(read int64) error {
	if p.Version != read {
		return &errs.Error{Kind: errs.KindPrecondition, Code: "project.version_mismatch",
			Message: "the project changed since you read it; read it again and retry"}
	}
	return nil
}

// CheckWritable refuses changes to an archived project; only restore and delete reach it.
func (p Project) CheckWritable() error {
	if p.Archived {
		return errs.Conflict("project.archived", "the project is archived; restore it first")
	}
	return nil
}

// SetArchived archives or restores the project; doing what is already done is a conflict.
func (p *Project) SetArchived(archived bool, now time.Time) error {
	switch {
	case p.Archived && archived:
		return errs.Conflict("project.already_archived", "the project is already archived")
	case !p.Archived && !archived:
		return errs.Conflict("project.not_archived", "the project is not archived")
	}
	p.Archived = archived
	p.Bump(now)
	return nil
}

// Successor is who inherits a project whose last owner leaves: the member of highest role, and of
// those the longest-standing.
func Successor(members []Member) Member {
	ms := slices.Clone(members)
	slices.SortStableFunc(ms, func(a, b Member) int {
		if a.Role.Rank() != b.Role.Rank() {
			return b.Role.Rank() - a.Role.Rank()
		}
		return a.AddedAt.Compare(b.AddedAt)
	})
	return ms[0]
}

// Redact returns a copy of settings without the values at the given paths (credentials a reader
// may not see); settings itself is left as it is.
func Redact(settings map[string]any, paths [][]string) map[string]any {
	out := deepCopy(settings)
	for _, path := range paths {
		m := out
		for i, key := range path {
			if i == len(path)-1 {
				delete(m, key)
				break
			}
			next, ok := m[key].(map[string]any)
			if !ok {
				break
			}
			m = next
		}
	}
	return out
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if inner, ok := v.(map[string]any); ok {
			v = deepCopy(inner)
		}
		out[k] = v
	}
	return out
}
