package adapters

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	schemas "github.com/acme/platform/contracts/jsonschema"
	"github.com/acme/platform/services/platform/errs"
)

var english = message.NewPrinter(language.English)

// SettingsSchema validates project settings against contracts/jsonschema/project-settings.schema.json.
type SettingsSchema struct {
	schema *jsonschema.Schema
}

// NewSettingsSchema compiles the contract's schema.
func NewSettingsSchema() (*SettingsSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.ProjectSettings))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	const url = "project-settings.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, err
	}
	return &SettingsSchema{schema: s}, nil
}

// Secrets are the paths of the properties the schema marks writeOnly.
func (v *SettingsSchema) Secrets() [][]string {
	var out [][]string
	var walk func(s *jsonschema.Schema, path []string)
	walk = func(s *jsonschema.Schema, path []string) {
		if s == nil {
			return
		}
		if s.WriteOnly && len(path) > 0 {
			out = append(out, append([]string(nil), path...))
		}
		for name, p := range s.Properties {
			walk(p, append(path, name))
		}
	}
	walk(v.schema, nil)
	return out
}

// Validate reports the first violation with the JSON pointer of the offending value.
func (v *SettingsSchema) Validate(settings map[string]any) error {
	err := v.schema.Validate(map[string]any(settings))
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		leaf := ve
		for len(leaf.Causes) > 0 {
			leaf = leaf.Causes[0]
		}
		where := "/" + strings.Join(leaf.InstanceLocation, "/")
		return errs.Invalid("project.settings_invalid", "settings", fmt.Sprintf("settings%s: %s", strings.TrimSuffix(where, "/"), leaf.ErrorKind.LocalizedString(english)))
	}
	return errs.Invalid("project.settings_invalid", "settings", "settings do not match the schema")
}
