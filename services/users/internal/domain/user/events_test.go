package user

import (
	"testing"
	"time"

	"github.com/acme/platform/services/platform/errs"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestChangeRoles_ReturnsTheEventWithTheCanonicalRoles(t *testing.T) {
	u := User{ID: "u1", Region: RegionEU, Roles: []string{RoleMember}}
	evs, err := u.ChangeRoles("admin1", []string{RoleAdmin, RoleMember, RoleAdmin}, t0)
	if err != nil || len(u.Roles) != 2 || u.Roles[0] != RoleMember || u.Roles[1] != RoleAdmin {
		t.Fatalf("%v %v", err, u.Roles)
	}
	e := evs[0]
	if len(evs) != 1 || e.Type != "user.roles_changed" || e.Subject != "u1" || e.Actor != "admin1" || e.Region != RegionEU ||
		!e.At.Equal(t0) || len(e.Roles) != 2 {
		t.Fatalf("%+v", evs)
	}
	if _, err := u.ChangeRoles("u1", []string{RoleMember}, t0); errs.As(err).Code != "user.self_demotion" || len(u.Roles) != 2 {
		t.Fatalf("%v %v", err, u.Roles)
	}
	if _, err := u.ChangeRoles("admin1", []string{"root"}, t0); errs.As(err).Code != "user.role_invalid" {
		t.Fatal(err)
	}
}

func TestSessionRefresh(t *testing.T) {
	fresh := func() Session {
		return Session{ID: "s1", UserID: "u1", Region: RegionUS, RefreshHash: "h2", PreviousHashes: []string{"h1"}, ExpiresAt: t0.Add(time.Hour)}
	}
	cases := []struct {
		name, hash string
		now        time.Time
		code       string
		reuse      bool
	}{
		{"current rotates", "h2", t0, "", false},
		{"an older token is a reuse", "h1", t0, "auth.refresh_reused", true},
		{"an older token is a reuse even after expiry", "h1", t0.Add(2 * time.Hour), "auth.refresh_reused", true},
		{"unknown", "hx", t0, "auth.refresh_invalid", false},
		{"expired", "h2", t0.Add(2 * time.Hour), "auth.refresh_invalid", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := fresh()
			evs, err := s.Refresh(tc.hash, "h3", tc.now)
			if tc.code == "" {
				if err != nil || len(evs) != 0 || s.RefreshHash != "h3" || s.Check("h2") != Reused || !s.RefreshedAt.Equal(t0) {
					t.Fatalf("%v %+v %+v", err, evs, s)
				}
				return
			}
			if errs.As(err).Code != tc.code || s.RefreshHash != "h2" {
				t.Fatalf("%v %+v", err, s)
			}
			if tc.reuse != (len(evs) == 1) || (tc.reuse && (evs[0].Type != "session.refresh_reused" || evs[0].Outcome != "denied" || evs[0].Subject != "s1")) {
				t.Fatalf("%+v", evs)
			}
		})
	}
}
