// Command reindex rebuilds the search index from the users, projects and files services and prints its
// progress. It calls the running search app through a Dapr sidecar (service invocation, app id
// search), so queries keep being answered from the old index until the new one is complete.
//
//	go run ./services/search/cmd/reindex -dapr 127.0.0.1:50001
//
// On Kubernetes, run it in the search pod (kubectl exec): its sidecar, and only it, may call Reindex.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	searchv1 "github.com/acme/platform/contracts/gen/go/acme/search/v1"
)

func main() {
	defaultAddr := os.Getenv("DAPR_GRPC_ENDPOINT")
	if defaultAddr == "" {
		port := os.Getenv("DAPR_GRPC_PORT")
		if port == "" {
			port = "50001"
		}
		defaultAddr = "127.0.0.1:" + port
	}
	addr := flag.String("dapr", defaultAddr, "a Dapr sidecar's gRPC address")
	app := flag.String("app-id", "search", "the search app's Dapr app id")
	timeout := flag.Duration("timeout", time.Hour, "give up after this long")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := run(ctx, *addr, *app, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "reindex:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, app string, out io.Writer) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	// Through search's own sidecar, as search itself: its API token (DAPR_API_TOKEN, as the app has
	// it) and the platform caller system:search.
	ctx = metadata.AppendToOutgoingContext(ctx, "dapr-app-id", app, "acme-caller-id", "system:search")
	if token := os.Getenv("DAPR_API_TOKEN"); token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "dapr-api-token", token)
	}
	start := time.Now()
	stream, err := searchv1.NewSearchServiceClient(conn).Reindex(ctx, &searchv1.ReindexRequest{})
	if err != nil {
		return err
	}
	for {
		p, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return errors.New("the stream ended before the rebuild finished")
		}
		if err != nil {
			return err
		}
		if p.GetFinished() {
			fmt.Fprintf(out, "done: %d documents searchable, in %.1fs\n", p.GetDocuments(), time.Since(start).Seconds())
			return nil
		}
		fmt.Fprintf(out, "%s: %d read\n", p.GetSource(), p.GetDone())
	}
}
