package projection

import "testing"

func TestVersion_TheRuleForDurableReadModels(t *testing.T) {
	var s Version
	if !s.Accepts(1) {
		t.Fatal("a first event refused")
	}
	s.Applied(3)
	for v, want := range map[int64]bool{1: false, 3: false, 4: true} {
		if s.Accepts(v) != want {
			t.Errorf("at 3, Accepts(%d) = %v", v, !want)
		}
	}
	// Parts follow their own versions: a member changed at 2 can still take an event at 3 that
	// the aggregate as a whole has already reflected (a transfer changes two members at one version).
	s.AppliedPart("alice", 3)
	if !s.AcceptsPart("bob", 3) || s.AcceptsPart("alice", 3) || !s.AcceptsPart("alice", 4) {
		t.Fatalf("parts: %+v", s)
	}
	s.AppliedPart("bob", 5)
	if s.Of != 5 || s.Parts["bob"] != 5 {
		t.Fatalf("applying a part does not advance the aggregate: %+v", s)
	}
	// A deleted aggregate takes nothing, older or newer.
	s.Delete(6)
	if s.Accepts(7) || s.AcceptsPart("carol", 9) || s.Of != 6 {
		t.Fatalf("a tombstone accepted an event: %+v", s)
	}
}
