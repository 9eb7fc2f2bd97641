package roles

import (
	"testing"

	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
)

func TestRoles_NameAndProtoAreInverses(t *testing.T) {
	for _, name := range []string{"viewer", "editor", "admin", "owner"} {
		r, ok := Proto(name)
		if !ok || Name(r) != name {
			t.Errorf("%s → %v → %q", name, r, Name(r))
		}
	}
	for _, bad := range []string{"", "unspecified", "OWNER", "Owner", "root", "role_owner"} {
		if r, ok := Proto(bad); ok {
			t.Errorf("%q is a role: %v", bad, r)
		}
	}
	if Name(projectsv1.Role_ROLE_UNSPECIFIED) != "" || Name(projectsv1.Role(99)) != "" {
		t.Error("unspecified or unknown roles have a name")
	}
}
