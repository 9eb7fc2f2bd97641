package launcher

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Override changes one value in a copy of the resources folder: the metadata item Key of the
// Component named Name, or, with Kind "Configuration", the name resolver's configuration item Key,
// or, for a Key starting "spec.", the existing value at that dotted path of the Configuration (say
// spec.tracing.otel.endpointAddress). With Key "scopes", Value is added to the component's scopes.
type Override struct {
	Kind  string // "Component" (default) or "Configuration"
	Name  string
	Key   string
	Value string
}

// CopyResources copies every YAML file of src into dst, applying overrides. Tests use it to point the
// very components make run uses at their own broker, Redis database and name-resolution file. An
// override that matches nothing is an error, so a renamed component cannot silently escape it.
func CopyResources(src, dst string, overrides []Override) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	used := make([]bool, len(overrides))
	files, err := filepath.Glob(filepath.Join(src, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var out bytes.Buffer
		enc := yaml.NewEncoder(&out)
		enc.SetIndent(2)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if doc == nil {
				continue
			}
			for i, o := range overrides {
				if apply(doc, o) {
					used[i] = true
				}
			}
			if err := enc.Encode(doc); err != nil {
				return err
			}
		}
		enc.Close()
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), out.Bytes(), 0o644); err != nil {
			return err
		}
	}
	var missing []string
	for i, ok := range used {
		if !ok {
			missing = append(missing, fmt.Sprintf("%s %s/%s", overrides[i].Kind, overrides[i].Name, overrides[i].Key))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("overrides matched nothing: %s", strings.Join(missing, ", "))
	}
	return nil
}

func apply(doc map[string]any, o Override) bool {
	kind := o.Kind
	if kind == "" {
		kind = "Component"
	}
	md, _ := doc["metadata"].(map[string]any)
	if doc["kind"] != kind || md == nil || md["name"] != o.Name {
		return false
	}
	if o.Key == "scopes" {
		scopes, _ := doc["scopes"].([]any)
		doc["scopes"] = append(scopes, o.Value)
		return true
	}
	spec, _ := doc["spec"].(map[string]any)
	var items []any
	switch kind {
	case "Component":
		items, _ = spec["metadata"].([]any)
	case "Configuration":
		if path, ok := strings.CutPrefix(o.Key, "spec."); ok {
			return setPath(spec, strings.Split(path, "."), o.Value)
		}
		nr, _ := spec["nameResolution"].(map[string]any)
		cfg, _ := nr["configuration"].(map[string]any)
		if cfg == nil {
			return false
		}
		if _, ok := cfg[o.Key]; !ok {
			return false
		}
		cfg[o.Key] = o.Value
		return true
	}
	for _, it := range items {
		m, _ := it.(map[string]any)
		if m != nil && m["name"] == o.Key {
			m["value"] = o.Value
			return true
		}
	}
	return false
}

// setPath replaces the value at path under m, if every step of the path exists.
func setPath(m map[string]any, path []string, value string) bool {
	for _, step := range path[:len(path)-1] {
		if m, _ = m[step].(map[string]any); m == nil {
			return false
		}
	}
	last := path[len(path)-1]
	if _, ok := m[last]; !ok {
		return false
	}
	m[last] = value
	return true
}
