// Package launcher brings up the topology of a Dapr multi-app run file (dapr.yaml) without the Dapr
// CLI: each app with its own daprd, as `dapr run -f` does, plus what these machines need (every
// listener on 127.0.0.1, sqlite name resolution, no placement or scheduler). make run and the e2e
// tests both use it.
package launcher

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// RunFile is a Dapr multi-app run template, version 1.
type RunFile struct {
	Version int       `yaml:"version"`
	Common  AppSpec   `yaml:"common"`
	Apps    []AppSpec `yaml:"apps"`
	// Dir is the run file's folder; relative paths in it are relative to Dir.
	Dir string `yaml:"-"`
}

// AppSpec holds the template fields this launcher maps to daprd flags and the app's environment. The
// parser refuses any other field, so the file never says something the launcher silently ignores.
type AppSpec struct {
	AppID                  string            `yaml:"appID"`
	AppDirPath             string            `yaml:"appDirPath"`
	AppPort                int               `yaml:"appPort"`
	AppProtocol            string            `yaml:"appProtocol"`
	AppChannelAddress      string            `yaml:"appChannelAddress"`
	Command                []string          `yaml:"command"`
	Env                    map[string]string `yaml:"env"`
	ResourcesPaths         []string          `yaml:"resourcesPaths"`
	ConfigFilePath         string            `yaml:"configFilePath"`
	DaprHTTPPort           int               `yaml:"daprHTTPPort"`
	DaprGRPCPort           int               `yaml:"daprGRPCPort"`
	DaprInternalGRPCPort   int               `yaml:"daprInternalGRPCPort"`
	MetricsPort            int               `yaml:"metricsPort"`
	APIListenAddresses     string            `yaml:"apiListenAddresses"`
	LogLevel               string            `yaml:"logLevel"`
	EnableAppHealthCheck   bool              `yaml:"enableAppHealthCheck"`
	AppHealthCheckPath     string            `yaml:"appHealthCheckPath"`
	AppHealthProbeInterval int               `yaml:"appHealthProbeInterval"`
	AppHealthProbeTimeout  int               `yaml:"appHealthProbeTimeout"`
	AppHealthThreshold     int               `yaml:"appHealthThreshold"`
	AppLogDestination      string            `yaml:"appLogDestination"`
	DaprdLogDestination    string            `yaml:"daprdLogDestination"`
	EnableAPILogging       bool              `yaml:"enableApiLogging"`
}

// ReadRunFile parses path strictly and fills every app with the common section's values.
func ReadRunFile(path string) (*RunFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var rf RunFile
	if err := dec.Decode(&rf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if rf.Version != 1 {
		return nil, fmt.Errorf("%s: version %d, want 1", path, rf.Version)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	rf.Dir = filepath.Dir(abs)
	seen := map[string]bool{}
	for i := range rf.Apps {
		a := &rf.Apps[i]
		a.inherit(rf.Common)
		if err := a.check(); err != nil {
			return nil, fmt.Errorf("%s: app %d: %w", path, i, err)
		}
		if seen[a.AppID] {
			return nil, fmt.Errorf("%s: app id %q appears twice", path, a.AppID)
		}
		seen[a.AppID] = true
	}
	return &rf, nil
}

func (a *AppSpec) inherit(c AppSpec) {
	str := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	str(&a.AppProtocol, c.AppProtocol)
	str(&a.AppChannelAddress, c.AppChannelAddress)
	str(&a.ConfigFilePath, c.ConfigFilePath)
	str(&a.APIListenAddresses, c.APIListenAddresses)
	str(&a.LogLevel, c.LogLevel)
	str(&a.AppHealthCheckPath, c.AppHealthCheckPath)
	str(&a.AppLogDestination, c.AppLogDestination)
	str(&a.DaprdLogDestination, c.DaprdLogDestination)
	if len(a.ResourcesPaths) == 0 {
		a.ResourcesPaths = c.ResourcesPaths
	}
	if !a.EnableAppHealthCheck {
		a.EnableAppHealthCheck = c.EnableAppHealthCheck
	}
	for _, p := range []struct {
		dst *int
		src int
	}{
		{&a.AppHealthProbeInterval, c.AppHealthProbeInterval}, {&a.AppHealthProbeTimeout, c.AppHealthProbeTimeout},
		{&a.AppHealthThreshold, c.AppHealthThreshold},
	} {
		if *p.dst == 0 {
			*p.dst = p.src
		}
	}
	env := map[string]string{}
	for k, v := range c.Env {
		env[k] = v
	}
	for k, v := range a.Env {
		env[k] = v
	}
	a.Env = env
	str(&a.AppProtocol, "http")
	str(&a.AppChannelAddress, "127.0.0.1")
	str(&a.LogLevel, "info")
	str(&a.AppLogDestination, "fileAndConsole")
	str(&a.DaprdLogDestination, "file")
}

func (a *AppSpec) check() error {
	var errs []string
	if a.AppID == "" || strings.ContainsAny(a.AppID, ". /") {
		errs = append(errs, "appID is required and may not contain dots, spaces or slashes")
	}
	if a.AppDirPath == "" {
		errs = append(errs, "appDirPath is required")
	}
	if len(a.Command) == 0 {
		errs = append(errs, "command is required")
	}
	switch a.AppProtocol {
	case "http", "grpc":
	default:
		errs = append(errs, fmt.Sprintf("appProtocol %q: this launcher runs http and grpc apps", a.AppProtocol))
	}
	if a.AppChannelAddress != "127.0.0.1" {
		errs = append(errs, "appChannelAddress must be 127.0.0.1 on these machines")
	}
	for _, d := range []string{a.AppLogDestination, a.DaprdLogDestination} {
		if d != "file" && d != "console" && d != "fileAndConsole" {
			errs = append(errs, fmt.Sprintf("log destination %q: want file, console or fileAndConsole", d))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// path resolves p against the run file's folder.
func (rf *RunFile) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(rf.Dir, p)
}
