package kubernetes

import (
	"go/constant"
	"go/types"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
	"gopkg.in/yaml.v3"
)

const (
	module    = "github.com/acme/platform/"
	contracts = module + "contracts/gen/go/acme/"
)

// calls finds, by type, every method an app's code calls on a generated gRPC client of the contracts
// (usersv1.UsersServiceClient.GetUser → /acme.users.v1.UsersService/GetUser), by app. A call made
// in the kit (services/platform) belongs to every app that imports the kit's package.
func calls(t *testing.T) map[string][]string {
	t.Helper()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedImports | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedSyntax, Dir: "../.."}
	pkgs, err := packages.Load(cfg, "./services/...")
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*packages.Package{}
	for _, p := range pkgs {
		byPath[p.PkgPath] = p
	}
	made := map[string][]string{} // by package
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("%s: %v", p.PkgPath, e)
		}
		for _, sel := range p.TypesInfo.Selections {
			fn, ok := sel.Obj().(*types.Func)
			if !ok || sel.Kind() != types.MethodVal || fn.Pkg() == nil || !strings.HasPrefix(fn.Pkg().Path(), contracts) {
				continue
			}
			named, ok := types.Unalias(sel.Recv()).(*types.Named)
			if !ok || !strings.HasSuffix(named.Obj().Name(), "ServiceClient") {
				continue
			}
			service := strings.TrimSuffix(named.Obj().Name(), "Client")
			c, ok := fn.Pkg().Scope().Lookup(service + "_" + fn.Name() + "_FullMethodName").(*types.Const)
			if !ok {
				t.Fatalf("%s: no full method name for %s.%s", p.PkgPath, service, fn.Name())
			}
			if m := constant.StringVal(c.Val()); !slices.Contains(made[p.PkgPath], m) {
				made[p.PkgPath] = append(made[p.PkgPath], m)
			}
		}
	}
	// An app's calls: its own packages' and those of every package of this module they import.
	out := map[string][]string{}
	for _, p := range pkgs {
		app, _, _ := strings.Cut(strings.TrimPrefix(p.PkgPath, module+"services/"), "/")
		if app == "platform" {
			continue
		}
		seen := map[string]bool{}
		var visit func(*packages.Package)
		visit = func(q *packages.Package) {
			if seen[q.PkgPath] {
				return
			}
			seen[q.PkgPath] = true
			for _, m := range made[q.PkgPath] {
				if !slices.Contains(out[app], m) {
					out[app] = append(out[app], m)
				}
			}
			for path := range q.Imports {
				if dep, ok := byPath[path]; ok {
					visit(dep)
				}
			}
		}
		visit(p)
	}
	for _, ms := range out {
		sort.Strings(ms)
	}
	return out
}

type accessPolicy struct {
	AppID         string `yaml:"appId"`
	DefaultAction string `yaml:"defaultAction"`
	Operations    []struct {
		Name   string `yaml:"name"`
		Action string `yaml:"action"`
	} `yaml:"operations"`
}

func policies(t *testing.T, path string) (string, map[string]accessPolicy) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Spec struct {
			AccessControl struct {
				DefaultAction string         `yaml:"defaultAction"`
				Policies      []accessPolicy `yaml:"policies"`
			} `yaml:"accessControl"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]accessPolicy{}
	for _, p := range c.Spec.AccessControl.Policies {
		out[p.AppID] = p
	}
	return c.Spec.AccessControl.DefaultAction, out
}

// Every call an app's code makes is allowed by the sidecars' access-control policy on Kubernetes, and
// the policy allows nothing the code does not call. The gateway, which fronts every public route, is
// the one app allowed by default. (Local runs have no policy: Dapr's access control knows a caller by
// its mTLS certificate, and there is no Sentry locally.)
func TestAccessControl_AllowsExactlyTheCallsTheCodeMakes(t *testing.T) {
	made := calls(t)
	if len(made["projects"]) == 0 || len(made["gateway"]) < 20 {
		t.Fatalf("too few calls found, the analysis is broken: %v", made)
	}
	ids := apps(t)
	for _, path := range []string{"../../components/kubernetes/config.yaml"} {
		def, ps := policies(t, path)
		if def != "deny" {
			t.Errorf("%s: default action %q, want deny", path, def)
		}
		for id := range ps {
			if !slices.Contains(ids, id) {
				t.Errorf("%s: a policy for %s, which dapr.yaml does not run", path, id)
			}
		}
		for _, app := range ids {
			p, ok := ps[app]
			if !ok {
				t.Errorf("%s: no policy for %s", path, app)
				continue
			}
			if app == "gateway" {
				if p.DefaultAction != "allow" {
					t.Errorf("%s: the gateway's default action is %q, want allow", path, p.DefaultAction)
				}
				continue
			}
			if p.DefaultAction != "deny" {
				t.Errorf("%s: %s's default action is %q, want deny", path, app, p.DefaultAction)
			}
			var allowed []string
			for _, op := range p.Operations {
				if op.Action == "allow" {
					allowed = append(allowed, op.Name)
				}
			}
			sort.Strings(allowed)
			if !slices.Equal(allowed, made[app]) {
				t.Errorf("%s: %s may call %v; its code calls %v", path, app, allowed, made[app])
			}
		}
	}
}
