// Package templates holds the emails notifications sends, as HTML templates.
package templates

import (
	"embed"
	"html/template"
)

//go:embed *.html
var files embed.FS

// All are the parsed templates, by file name.
var All = template.Must(template.ParseFS(files, "*.html"))
