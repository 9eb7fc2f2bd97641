// Command launch is `make run`: it brings up every app of dapr.yaml with its daprd, prints the ready
// table, and on Ctrl-C or SIGTERM stops everything it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acme/platform/deploy/local/launcher"
)

func main() {
	runFile := flag.String("f", "dapr.yaml", "Dapr multi-app run file")
	daprd := flag.String("daprd", os.Getenv("DAPRD"), "daprd binary (make sidecar builds it)")
	logDir := flag.String("logs", ".data/run/logs", "folder for app and sidecar logs")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	t, err := launcher.Start(ctx, *runFile, launcher.Options{Daprd: *daprd, LogDir: *logDir, Console: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "launch:", err)
		os.Exit(1)
	}
	fmt.Printf("\nAll apps healthy in %.1fs. Logs: %s. Ctrl-C stops everything.\n\n%s\n", time.Since(start).Seconds(), *logDir, t.Table())
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
	if left := t.Leftovers(); len(left) > 0 {
		fmt.Fprintln(os.Stderr, "processes left running:", left)
		os.Exit(1)
	}
	fmt.Println("stopped; nothing left running")
}
