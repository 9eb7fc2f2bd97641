// Package config reads a service's settings from its environment, the way Dapr and Kubernetes hand
// them over. A missing required value stops the service at start, not at first use.
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads typed values and collects every problem, so a misconfigured service reports all of them
// at once.
type Env struct {
	lookup func(string) (string, bool)
	errs   []string
}

// FromOS reads the process environment.
func FromOS() *Env { return &Env{lookup: os.LookupEnv} }

// FromMap reads a fixed map; for tests.
func FromMap(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

// String returns the value of key, or def when it is unset or empty.
func (e *Env) String(key, def string) string {
	if v, ok := e.lookup(key); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// Required returns the value of key and records an error when it is unset.
func (e *Env) Required(key string) string {
	v := e.String(key, "")
	if v == "" {
		e.errs = append(e.errs, key+" is required")
	}
	return v
}

// Int returns key as an integer, or def.
func (e *Env) Int(key string, def int) int {
	v := e.String(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Sprintf("%s: %q is not an integer", key, v))
		return def
	}
	return n
}

// Bool returns key as a boolean ("true", "false", "1", "0"), or def.
func (e *Env) Bool(key string, def bool) bool {
	v := e.String(key, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Sprintf("%s: %q is not true or false", key, v))
		return def
	}
	return b
}

// Duration returns key as a Go duration ("1.5s", "15m"), or def.
func (e *Env) Duration(key string, def time.Duration) time.Duration {
	v := e.String(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.errs = append(e.errs, fmt.Sprintf("%s: %q is not a duration", key, v))
		return def
	}
	return d
}

// List returns key split on commas, blanks dropped, or def.
func (e *Env) List(key string, def []string) []string {
	v := e.String(key, "")
	if v == "" {
		return def
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Err reports every problem met so far.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %s", strings.Join(e.errs, "; "))
}
