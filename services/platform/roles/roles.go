// Package roles maps a project role between its gRPC enum (acme.projects.v1.Role) and the name the
// REST API, the events and the domain use. The name is derived from the enum (ROLE_EDITOR is
// "editor"), so a role added to the contract needs no second list anywhere.
package roles

import (
	"strings"

	projectsv1 "github.com/acme/platform/contracts/gen/go/acme/projects/v1"
)

// Name is r's name ("" for the unspecified role or one the contract does not know).
func Name(r projectsv1.Role) string {
	if r == projectsv1.Role_ROLE_UNSPECIFIED {
		return ""
	}
	n, ok := projectsv1.Role_name[int32(r)]
	if !ok {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(n, "ROLE_"))
}

// Proto is the enum value of a role name; false for a name that is no role.
func Proto(name string) (projectsv1.Role, bool) {
	if name == "" || strings.ToLower(name) != name {
		return projectsv1.Role_ROLE_UNSPECIFIED, false
	}
	v, ok := projectsv1.Role_value["ROLE_"+strings.ToUpper(name)]
	if !ok || v == int32(projectsv1.Role_ROLE_UNSPECIFIED) {
		return projectsv1.Role_ROLE_UNSPECIFIED, false
	}
	return projectsv1.Role(v), true
}
