package launcher

import (
	"os"
	"path/filepath"
	"strconv"
)

// The daprd command line and the app environment the launcher builds, as the Dapr CLI would.

func (t *Topology) resources(a *App) ([]string, string) {
	cfg := a.rf.path(a.Spec.ConfigFilePath)
	if t.opts.ResourcesDir != "" {
		if cfg != "" {
			cfg = filepath.Join(t.opts.ResourcesDir, filepath.Base(cfg))
		}
		return []string{t.opts.ResourcesDir}, cfg
	}
	var paths []string
	for _, p := range a.Spec.ResourcesPaths {
		paths = append(paths, a.rf.path(p))
	}
	return paths, cfg
}

// daprdArgs maps the template's fields to daprd flags as the Dapr CLI does, and adds what these
// machines need: every listener on 127.0.0.1, no placement and no scheduler.
func (t *Topology) daprdArgs(a *App) []string {
	s := a.Spec
	listen := s.APIListenAddresses
	if listen == "" {
		listen = "127.0.0.1"
	}
	args := append(sidecarArgs(s.AppID, listen, a.HTTPPort, a.GRPCPort, a.InternalPort, a.MetricsPort, s.LogLevel),
		"--app-protocol", s.AppProtocol, "--app-channel-address", s.AppChannelAddress)
	if a.AppPort > 0 {
		args = append(args, "--app-port", strconv.Itoa(a.AppPort))
	}
	paths, cfg := t.resources(a)
	for _, p := range paths {
		args = append(args, "--resources-path", p)
	}
	if cfg != "" {
		args = append(args, "--config", cfg)
	}
	if s.EnableAppHealthCheck {
		args = append(args, "--enable-app-health-check")
		if s.AppHealthCheckPath != "" {
			args = append(args, "--app-health-check-path", s.AppHealthCheckPath)
		}
		if s.AppHealthProbeInterval > 0 {
			args = append(args, "--app-health-probe-interval", strconv.Itoa(s.AppHealthProbeInterval))
		}
		if s.AppHealthProbeTimeout > 0 {
			args = append(args, "--app-health-probe-timeout", strconv.Itoa(s.AppHealthProbeTimeout))
		}
		if s.AppHealthThreshold > 0 {
			args = append(args, "--app-health-threshold", strconv.Itoa(s.AppHealthThreshold))
		}
	}
	if s.EnableAPILogging {
		args = append(args, "--enable-api-logging")
	}
	if a.ProfilePort > 0 { // it listens on the API listen addresses: loopback
		args = append(args, "--enable-profiling", "--profile-port", strconv.Itoa(a.ProfilePort))
	}
	return args
}

// sidecarArgs are the flags every daprd here gets: standalone, every listener on loopback (listen
// for the API), no placement or scheduler.
func sidecarArgs(appID, listen string, httpPort, grpcPort, internalPort, metricsPort int, logLevel string) []string {
	return []string{
		"--mode", "standalone",
		"--app-id", appID,
		"--dapr-http-port", strconv.Itoa(httpPort),
		"--dapr-grpc-port", strconv.Itoa(grpcPort),
		"--dapr-internal-grpc-port", strconv.Itoa(internalPort),
		"--metrics-port", strconv.Itoa(metricsPort),
		"--dapr-listen-addresses", listen,
		"--dapr-public-listen-address", "127.0.0.1",
		"--dapr-internal-grpc-listen-address", "127.0.0.1",
		"--metrics-listen-address", "127.0.0.1",
		"--placement-host-address", "",
		"--scheduler-host-address", "",
		"--log-level", logLevel,
		"--log-as-json=false",
	}
}

func (t *Topology) appEnv(a *App) []string {
	env := map[string]string{}
	for k, v := range a.Spec.Env {
		env[k] = v
	}
	for k, v := range t.opts.CommonEnv {
		env[k] = v
	}
	for k, v := range t.opts.Env[a.Spec.AppID] {
		env[k] = v
	}
	env["APP_ID"] = a.Spec.AppID
	env["APP_PORT"] = strconv.Itoa(a.AppPort)
	env["APP_PROTOCOL"] = a.Spec.AppProtocol
	env["DAPR_HTTP_PORT"] = strconv.Itoa(a.HTTPPort)
	env["DAPR_GRPC_PORT"] = strconv.Itoa(a.GRPCPort)
	env["DAPR_METRICS_PORT"] = strconv.Itoa(a.MetricsPort)
	env["APP_METRICS_PORT"] = strconv.Itoa(a.AppMetricsPort)
	env["DAPR_API_TOKEN"] = a.APIToken
	env["APP_API_TOKEN"] = a.AppToken
	out := os.Environ()
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
