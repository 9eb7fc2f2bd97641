package projection

import (
	"errors"
	"testing"
)

func TestGuard_AppliesOnlyNewerVersions(t *testing.T) {
	g := NewGuard()
	var applied []int64
	apply := func(v int64) bool {
		ok, err := g.Apply("p1", v, func() error { applied = append(applied, v); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, v := range []int64{1, 2, 2, 1, 4, 3, 5} {
		apply(v)
	}
	if len(applied) != 4 || applied[0] != 1 || applied[1] != 2 || applied[2] != 4 || applied[3] != 5 {
		t.Fatalf("applied %v, want [1 2 4 5]", applied)
	}
	if apply(1) || g.Version("p1") != 5 || g.Version("p2") != 0 {
		t.Fatal("versions are not per aggregate")
	}
	if ok, _ := g.Apply("p2", 1, func() error { return nil }); !ok {
		t.Fatal("another aggregate was blocked")
	}
}

func TestGuard_AFailedApplyCanBeRetried(t *testing.T) {
	g := NewGuard()
	if ok, err := g.Apply("p", 1, func() error { return errors.New("down") }); ok || err == nil {
		t.Fatal("a failed apply counted")
	}
	if ok, _ := g.Apply("p", 1, func() error { return nil }); !ok {
		t.Fatal("the retry was refused")
	}
}
