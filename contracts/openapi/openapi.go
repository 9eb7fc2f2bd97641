// Package openapi embeds the REST contract, acme.yaml, for the gateway's tests and the e2e suite.
package openapi

import _ "embed"

// Spec is contracts/openapi/acme.yaml.
//
//go:embed acme.yaml
var Spec []byte
