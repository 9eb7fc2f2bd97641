// Command eventsink is a test consumer: it subscribes to acme.projects.events through its own Dapr
// sidecar (a declarative subscription, as the services do), keeps a members projection per project
// guarded by aggregate versions, and shows what it received on an HTTP port for the e2e tests.
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/acme/platform/services/platform/config"
	"github.com/acme/platform/services/platform/events"
	"github.com/acme/platform/services/platform/projection"
	"github.com/acme/platform/services/platform/server"
	"github.com/acme/platform/services/platform/subscriber"
	"github.com/acme/platform/services/platform/telemetry"
)

// Received is one delivery as the sink saw it.
type Received struct {
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	Version int64  `json:"version"`
	Applied bool   `json:"applied"`
}

// View is the sink's state for one project.
type View struct {
	Version  int64             `json:"version"`
	Members  map[string]string `json:"members"`
	Received []Received        `json:"received"`
}

type sink struct {
	mu    sync.Mutex
	guard *projection.Guard
	views map[string]*View
}

func (s *sink) handle(_ context.Context, _ string, e events.Envelope) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.views[e.Subject]
	if v == nil {
		v = &View{Members: map[string]string{}}
		s.views[e.Subject] = v
	}
	applied, _ := s.guard.Apply(e.Subject, e.AggregateVersion, func() error {
		switch p := e.Payload.(type) {
		case events.ProjectCreated:
			v.Members[p.OwnerID] = "owner"
		case events.MemberChanged:
			if e.Type == "project.member_removed" {
				delete(v.Members, p.UserID)
			} else {
				v.Members[p.UserID] = p.Role
			}
		}
		v.Version = e.AggregateVersion
		return nil
	})
	v.Received = append(v.Received, Received{EventID: e.EventID, Type: e.Type, Version: e.AggregateVersion, Applied: applied})
	return nil
}

func main() {
	env := config.FromOS()
	log := telemetry.NewLogger(os.Stderr, "eventsink", "info")
	httpPort := env.Required("SINK_HTTP_PORT")
	if err := env.Err(); err != nil {
		log.Error("config", "error", err)
		os.Exit(1)
	}
	codec, err := events.NewCodec()
	if err != nil {
		log.Error("codec", "error", err)
		os.Exit(1)
	}
	s := &sink{guard: projection.NewGuard(), views: map[string]*View{}}
	ctx, stop := server.SignalContext()
	defer stop()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /projects/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		v := s.views[r.PathValue("id")]
		if v == nil {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	})
	go func() {
		_ = server.ServeHTTP(ctx, log, &http.Server{Addr: "127.0.0.1:" + httpPort, Handler: mux,
			ReadHeaderTimeout: 5 * time.Second})
	}()

	srv, health := server.NewGRPC(log)
	subs := subscriber.New(log, nil)
	subs.Handle("pubsub", events.TopicProjects, subscriber.Events(codec, s.handle))
	subs.Register(srv)
	if err := server.ServeGRPC(ctx, log, server.ListenAddr(env, "50199"), srv, health); err != nil {
		log.Error("stopped", "error", err)
		os.Exit(1)
	}
}
