// Package jsonschema embeds the JSON Schemas of documents the platform stores, such as project
// settings; services validate against these files themselves.
package jsonschema

import _ "embed"

// ProjectSettings is project-settings.schema.json.
//
//go:embed project-settings.schema.json
var ProjectSettings []byte
