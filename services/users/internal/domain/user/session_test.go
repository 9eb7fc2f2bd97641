package user

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/acme/platform/services/platform/errs"
)

func TestSession_RotationAndReuse(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s := Session{RefreshHash: "h0", ExpiresAt: now.Add(time.Hour)}
	if s.Check("h0") != Current || s.Check("nope") != Unknown {
		t.Fatal("a fresh session")
	}
	s.Rotate("h1", now)
	if s.Check("h1") != Current || s.Check("h0") != Reused || !s.RefreshedAt.Equal(now) {
		t.Fatalf("after a rotation: %+v", s)
	}
	for i := 2; i < 40; i++ {
		s.Rotate(fmt.Sprint("h", i), now)
	}
	if len(s.PreviousHashes) != KeepPrevious || s.Check("h0") != Unknown || s.Check("h38") != Reused {
		t.Fatalf("the remembered tokens: %d, h0 %v", len(s.PreviousHashes), s.Check("h0"))
	}
	if s.Expired(now) || !s.Expired(now.Add(2*time.Hour)) {
		t.Fatal("expiry")
	}
}

func TestNewRoles(t *testing.T) {
	for _, tc := range []struct {
		actor, target string
		roles         []string
		want          []string
		code          string
	}{
		{"a", "b", []string{"admin", "member"}, []string{"member", "admin"}, ""},
		{"a", "b", []string{"member", "member"}, []string{"member"}, ""},
		{"a", "b", []string{"admin"}, nil, "user.role_invalid"},
		{"a", "b", []string{"member", "root"}, nil, "user.role_invalid"},
		{"a", "a", []string{"member"}, nil, "user.self_demotion"},
		{"a", "a", []string{"member", "admin"}, []string{"member", "admin"}, ""},
	} {
		got, err := NewRoles(tc.actor, tc.target, tc.roles)
		if (err == nil && tc.code != "") || (err != nil && errs.As(err).Code != tc.code) || !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v %v", tc, got, err)
		}
	}
}
