package projection

// Version is what a durable read model keeps beside each aggregate's data to follow the rule: the
// aggregate version it reflects, whether the aggregate is gone, and the versions of parts that
// events change one at a time (a project's memberships: a transfer changes two members at one
// aggregate version, so each member keeps the version of the event that last changed it).
type Version struct {
	// Of is the newest aggregate version reflected; 0 when nothing was seen.
	Of int64
	// Deleted: the aggregate is gone, and no event, older or newer, brings it back.
	Deleted bool
	// Parts holds each part's version.
	Parts map[string]int64
}

// Accepts reports whether an event at version v changes the aggregate: it is newer than what is
// reflected, and the aggregate is not deleted.
func (s Version) Accepts(v int64) bool { return !s.Deleted && v > s.Of }

// AcceptsPart reports whether an event at version v changes part: newer than the part's last
// change, whatever else the aggregate saw since, and the aggregate is not deleted.
func (s Version) AcceptsPart(part string, v int64) bool { return !s.Deleted && v > s.Parts[part] }

// Applied records an accepted event at version v.
func (s *Version) Applied(v int64) { s.Of = max(s.Of, v) }

// AppliedPart records an accepted event at version v that changed part.
func (s *Version) AppliedPart(part string, v int64) {
	if s.Parts == nil {
		s.Parts = map[string]int64{}
	}
	s.Parts[part] = max(s.Parts[part], v)
	s.Applied(v)
}

// Delete makes the aggregate a tombstone at version v (or the newest it saw).
func (s *Version) Delete(v int64) {
	s.Deleted = true
	s.Applied(v)
}
