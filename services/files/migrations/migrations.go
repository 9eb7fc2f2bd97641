// Package migrations embeds the files database schema, applied by goose at start.
package migrations

import "embed"

//go:embed *.sql
var FS embed.FS
