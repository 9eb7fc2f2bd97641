// Command launch is `make run`: it starts the trace store, brings up every app of dapr.yaml with its
// daprd, starts Prometheus scraping them all, prints the ready table, and on Ctrl-C or SIGTERM stops
// everything it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/acme/platform/deploy/local/launcher"
	"github.com/acme/platform/deploy/local/observability"
)

// The trace store's OTLP port is the one components/local/config.yaml sends the sidecars' spans to.
const (
	otlpPort       = 4317
	traceQueryPort = 16686
	prometheusPort = 9090
)

func main() {
	runFile := flag.String("f", "dapr.yaml", "Dapr multi-app run file")
	daprd := flag.String("daprd", os.Getenv("DAPRD"), "daprd binary (make sidecar builds it)")
	jaeger := flag.String("jaeger", os.Getenv("JAEGER"), "Jaeger v2 binary, the trace store (deploy/local/jaeger.sh builds it)")
	prometheus := flag.String("prometheus", "", "Prometheus binary (default: PROMETHEUS, else prometheus on PATH: make infra installs Debian's)")
	obs := flag.Bool("observability", true, "start the trace store and Prometheus beside the apps")
	logDir := flag.String("logs", ".data/run/logs", "folder for app and sidecar logs")
	flag.Parse()
	if err := run(*runFile, *daprd, *jaeger, *prometheus, *obs, *logDir); err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		os.Exit(1)
	}
}

func run(runFile, daprd, jaeger, prometheus string, obs bool, logDir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	opts := launcher.Options{Daprd: daprd, LogDir: logDir, Console: os.Stdout}
	var store *observability.TraceStore
	var prom *observability.Prometheus
	var groups []int
	if obs {
		if jaeger == "" {
			return fmt.Errorf("no trace store binary: JAEGER is not set (make run builds it; -observability=false runs without)")
		}
		var err error
		store, err = observability.StartTraceStore(observability.TraceStoreOptions{Bin: jaeger, Dir: filepath.Join(logDir, "..", "jaeger"),
			OTLPPort: otlpPort, QueryPort: traceQueryPort})
		if err != nil {
			return err
		}
		defer store.Close()
		groups = append(groups, store.PID())
		opts.CommonEnv = store.ExportEnv()
	}
	t, err := launcher.Start(ctx, runFile, opts)
	if err != nil {
		return err
	}
	if obs {
		rules, _ := filepath.Abs("deploy/observability/prometheus/rules/*.yaml")
		prom, err = observability.StartPrometheus(observability.PrometheusOptions{Bin: prometheus, Dir: filepath.Join(logDir, "..", "prometheus"),
			Port: prometheusPort, Targets: observability.TopologyTargets(t.Apps), RuleFiles: []string{rules}})
		if err != nil {
			t.Stop()
			return err
		}
		defer prom.Close()
		groups = append(groups, prom.PID())
	}
	fmt.Printf("\nAll apps healthy in %.1fs. Logs: %s. Ctrl-C stops everything.\n\n%s\n", time.Since(start).Seconds(), logDir, t.Table())
	if obs {
		fmt.Println(table(store, prom, len(t.Apps)))
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-ticker.C:
			for _, a := range t.Apps {
				if err := a.Exited(); err != nil && a.State == "healthy" {
					a.State = "exited"
					fmt.Fprintf(os.Stderr, "%s: %v; stopping everything\n", a.Spec.AppID, err)
					stop()
				}
			}
		}
	}
	fmt.Println("\nstopping...")
	t.Stop()
	if prom != nil {
		prom.Close()
	}
	if store != nil {
		store.Close()
	}
	if left := append(t.Leftovers(), launcher.LiveInGroups(groups)...); len(left) > 0 {
		return fmt.Errorf("processes left running: %v", left)
	}
	fmt.Println("stopped; nothing left running")
	return nil
}

// table is the ready table's second part: where traces and metrics are read.
func table(store *observability.TraceStore, prom *observability.Prometheus, apps int) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "OBSERVABILITY\tADDRESS\tWHAT")
	fmt.Fprintf(w, "trace store (Jaeger)\t%s\tquery API: GET /api/v3/traces/<trace id>, /api/v3/services\n", store.QueryURL)
	fmt.Fprintf(w, "  OTLP gRPC in\t%s\tapps and sidecars send their spans here\n", store.OTLPEndpoint)
	fmt.Fprintf(w, "prometheus\t%s\t%d targets (every app and sidecar), the platform's alert rules\n", prom.URL, 2*apps)
	w.Flush()
	return b.String()
}
