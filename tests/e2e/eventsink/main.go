// Command eventsink is a test consumer: it subscribes to acme.projects.events through its own Dapr
// sidecar (a declarative subscription, as the services do), keeps a members projection per project
// guarded by aggregate versions, and shows what it received on an HTTP port for the e2e tests.
package main

import (
	"context"
	"encoding/json"
	"fmt"
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
	// failing projects make the handler fail, so the tests can watch retries and dead-lettering.
	failing  map[string]bool
	attempts map[string]int // deliveries per event id
	dead     []Received     // what arrived on the sink's dead-letter topic
}

func (s *sink) handle(_ context.Context, _ string, e events.Envelope) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts[e.EventID]++
	if s.failing[e.Subject] {
		return fmt.Errorf("told to fail for project %s", e.Subject)
	}
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
	s := &sink{guard: projection.NewGuard(), views: map[string]*View{}, failing: map[string]bool{}, attempts: map[string]int{}}
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
	mux.HandleFunc("POST /fail/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.failing[r.PathValue("id")] = true
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /attempts/{event}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]int{"attempts": s.attempts[r.PathValue("event")]})
	})
	mux.HandleFunc("GET /dead", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(s.dead)
	})
	go func() {
		_ = server.ServeHTTP(ctx, log, &http.Server{Addr: "127.0.0.1:" + httpPort, Handler: mux,
			ReadHeaderTimeout: 5 * time.Second})
	}()

	srv, health := server.NewGRPC(log)
	subs := subscriber.New(log, nil)
	subs.Handle("pubsub", events.TopicProjects, subscriber.Events(codec, s.handle))
	// A dead letter is the original datum, so it decodes with the original topic's schema.
	subs.Handle("pubsub", events.TopicProjects+".deadletter.eventsink", func(_ context.Context, m subscriber.Message) error {
		e, err := codec.Decode(events.TopicProjects, m.Data)
		if err != nil {
			return nil // not ours to keep: the services' dead-letter stores keep any bytes
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.dead = append(s.dead, Received{EventID: e.EventID, Type: e.Type, Version: e.AggregateVersion})
		return nil
	})
	subs.Register(srv)
	if err := server.ServeGRPC(ctx, log, server.ListenAddr(env, "50199"), srv, health); err != nil {
		log.Error("stopped", "error", err)
		os.Exit(1)
	}
}
