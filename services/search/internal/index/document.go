package index

import (
	"slices"
	"strings"
)

// Live reports whether d is a document queries may return (not a tombstone).
func (d Document) Live() bool { return !d.Deleted }

// Normalize gives d the canonical form both adapters store: sorted, de-duplicated, lower-case tags and
// members, and never nil slices or maps.
func (d Document) Normalize() Document {
	d.Tags = sortedUnique(d.Tags, strings.ToLower)
	d.Members = sortedUnique(d.Members, nil)
	if d.MemberVersions == nil {
		d.MemberVersions = map[string]int64{}
	}
	d.CreatedAt = d.CreatedAt.UTC()
	d.UpdatedAt = d.UpdatedAt.UTC()
	d.EventTime = d.EventTime.UTC()
	return d
}

func sortedUnique(in []string, norm func(string) string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if norm != nil {
			s = norm(s)
		}
		if s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TitleKey is the sort key of a title: case-insensitive.
func TitleKey(title string) string { return strings.ToLower(title) }
