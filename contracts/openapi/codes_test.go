package openapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// emittedCodes finds every error code the services can answer with, by reading their source: the
// first argument of the errs constructors, Code in errs.Error and the gateway's ErrorDetail literals
// and in assignments, the not-found code the gateway passes for a malformed path id (uuidParam), the
// fallbacks of the gateway's contract checks (errorCode) and the x-error-codes of the contract.
func emittedCodes(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	constructors := map[string]bool{"Invalid": true, "NotFound": true, "Conflict": true, "Unauthenticated": true,
		"PermissionDenied": true, "Unavailable": true}
	root := filepath.Join("..", "..", "services")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		add := func(e ast.Expr) {
			if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				code, _ := strconv.Unquote(lit.Value)
				out[code] = append(out[code], fset.Position(lit.Pos()).String())
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				switch fn := n.Fun.(type) {
				case *ast.SelectorExpr:
					if pkg, ok := fn.X.(*ast.Ident); ok && pkg.Name == "errs" && constructors[fn.Sel.Name] && len(n.Args) > 0 {
						switch arg := n.Args[0].(type) {
						case *ast.BasicLit:
							add(arg)
						case *ast.Ident: // a helper's parameter: its callers are read above
						case *ast.CallExpr: // the gateway's errorCode: the contract's x-error-code or its fallback, both read
							if id, ok := arg.Fun.(*ast.Ident); !ok || id.Name != "errorCode" {
								t.Errorf("%s: a code built at run time cannot be checked against the contract; write it out", fset.Position(arg.Pos()))
							}
						default:
							t.Errorf("%s: a code built at run time cannot be checked against the contract; write it out", fset.Position(arg.Pos()))
						}
					}
				case *ast.Ident:
					// Helpers that take the code to answer with.
					if fn.Name == "uuidParam" && len(n.Args) == 3 {
						add(n.Args[2])
					}
					if fn.Name == "oneOf" && len(n.Args) == 4 {
						add(n.Args[0])
					}
					if fn.Name == "errorCode" && len(n.Args) == 3 {
						add(n.Args[2])
					}
				}
			case *ast.CompositeLit:
				// errs.Error{Code: …}, and the gateway's own ErrorDetail{Code: …}.
				name := ""
				switch typ := n.Type.(type) {
				case *ast.SelectorExpr:
					name = typ.Sel.Name
				case *ast.Ident:
					name = typ.Name
				}
				if name == "Error" || name == "ErrorDetail" {
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
								add(kv.Value)
							}
						}
					}
				}
			case *ast.AssignStmt:
				// x.Code, x.Message = "…", "…"; and code = "…" where a code is chosen before use.
				for i, lhs := range n.Lhs {
					if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "Code" && i < len(n.Rhs) {
						add(n.Rhs[i])
					}
					if id, ok := lhs.(*ast.Ident); ok && id.Name == "code" && i < len(n.Rhs) {
						add(n.Rhs[i])
					}
				}
			case *ast.ValueSpec:
				// A table of codes (var fooCodes = map[…]string{…: "code"}): its values are codes.
				for i, name := range n.Names {
					if !strings.HasSuffix(name.Name, "Codes") || i >= len(n.Values) {
						continue
					}
					if lit, ok := n.Values[i].(*ast.CompositeLit); ok {
						for _, el := range lit.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								add(kv.Value)
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The gateway answers a contract check's failure with the schema's x-error-code.
	var spec any
	if err := yaml.Unmarshal(Spec, &spec); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k != "x-error-code" {
					walk(x)
					continue
				}
				switch x := x.(type) {
				case string:
					out[x] = append(out[x], "acme.yaml x-error-code")
				case map[string]any:
					for _, c := range x {
						out[c.(string)] = append(out[c.(string)], "acme.yaml x-error-code")
					}
				}
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(spec)
	return out
}

// documentedCodes is the enum of ErrorBody's code in the contract.
func documentedCodes(t *testing.T) []string {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Properties map[string]struct {
						Enum []string `yaml:"enum"`
					} `yaml:"properties"`
				} `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(Spec, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas["ErrorBody"].Properties["error"].Properties["code"].Enum
}

// Every error code a service can answer with is listed in the contract, and the contract lists
// nothing no service emits: clients may rely on the list.
func TestErrorCodes_TheContractListsExactlyWhatTheServicesEmit(t *testing.T) {
	emitted, documented := emittedCodes(t), documentedCodes(t)
	if len(emitted) < 50 {
		t.Fatalf("found only %d codes in the services; the scan is broken", len(emitted))
	}
	for code, where := range emitted {
		if !slices.Contains(documented, code) {
			t.Errorf("%s (%s) is not in ErrorBody.error.code's enum in contracts/openapi/acme.yaml", code, where[0])
		}
	}
	for _, code := range documented {
		if _, ok := emitted[code]; !ok {
			t.Errorf("the contract lists %s, which no service emits", code)
		}
	}
	if !slices.IsSorted(documented) {
		t.Error("keep ErrorBody.error.code's enum sorted")
	}
}
