package observability

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/acme/platform/deploy/local/procgroup"
)

//go:embed jaeger.yaml
var jaegerConfig []byte

// TraceStoreOptions shape the trace store.
type TraceStoreOptions struct {
	// Bin is the Jaeger v2 binary ("" reads JAEGER; deploy/local/jaeger.sh builds it).
	Bin string
	// Dir receives its configuration and jaeger.log.
	Dir string
	// OTLPPort takes OTLP over gRPC, QueryPort serves the query API; zero picks free ones.
	OTLPPort, QueryPort int
}

// TraceStore is a running Jaeger keeping traces in memory.
type TraceStore struct {
	// OTLPEndpoint is where apps and sidecars send spans (host:port, OTLP over gRPC, no TLS).
	OTLPEndpoint string
	// QueryURL is the query API's base (/api/v3/traces/{trace_id}).
	QueryURL string
	srv      *procgroup.Server
}

// StartTraceStore starts Jaeger with jaeger.yaml and waits until it reports healthy.
func StartTraceStore(o TraceStoreOptions) (*TraceStore, error) {
	bin, err := binary(o.Bin, "JAEGER", "make builds the trace store with deploy/local/jaeger.sh")
	if err != nil {
		return nil, err
	}
	var queryGRPC, health int
	if err := ports(&o.OTLPPort, &o.QueryPort, &queryGRPC, &health); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(o.Dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, jaegerConfig, 0o644); err != nil {
		return nil, err
	}
	srv, err := start("jaeger", bin, filepath.Join(o.Dir, "jaeger.log"), []string{
		"JAEGER_OTLP_GRPC=" + strconv.Itoa(o.OTLPPort), "JAEGER_QUERY_HTTP=" + strconv.Itoa(o.QueryPort),
		"JAEGER_QUERY_GRPC=" + strconv.Itoa(queryGRPC), "JAEGER_HEALTH_HTTP=" + strconv.Itoa(health),
	}, "--config", "file:"+cfg)
	if err != nil {
		return nil, err
	}
	s := &TraceStore{OTLPEndpoint: fmt.Sprintf("127.0.0.1:%d", o.OTLPPort), QueryURL: fmt.Sprintf("http://127.0.0.1:%d", o.QueryPort), srv: srv}
	if err := answering(srv, fmt.Sprintf("http://127.0.0.1:%d/status", health), time.Minute); err != nil {
		s.Close()
		return nil, err
	}
	if err := answering(srv, s.QueryURL+"/api/v3/services", 30*time.Second); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the store; its traces are gone with it.
func (s *TraceStore) Close() { s.srv.Stop(stopGrace) }

// PID is the store's process group leader.
func (s *TraceStore) PID() int { return s.srv.PID() }

// Span is one span of a trace as the store returns it, with what tests look at.
type Span struct {
	Service string
	// Scope is the instrumentation that made it: "dapr-diagnostics" for a sidecar's spans.
	Scope        string
	Name         string
	Kind         string // server, client, producer, consumer, internal
	TraceID      string
	SpanID       string
	ParentSpanID string
	Attributes   map[string]string
}

// ErrNoTrace is the store knowing no span of the trace (yet).
var ErrNoTrace = errors.New("trace not found")

// Trace returns every span the store holds for traceID (32 hex digits).
func (s *TraceStore) Trace(ctx context.Context, traceID string) ([]Span, error) {
	var body struct {
		Result otlpTraces `json:"result"`
	}
	status, err := getJSON(ctx, s.QueryURL+"/api/v3/traces/"+url.PathEscape(traceID), &body)
	switch {
	case status == http.StatusNotFound:
		return nil, ErrNoTrace
	case err != nil:
		return nil, fmt.Errorf("trace %s: %w", traceID, err)
	case status != http.StatusOK:
		return nil, fmt.Errorf("trace %s: status %d", traceID, status)
	}
	return body.Result.spans(), nil
}

// otlpTraces is OTLP's JSON encoding of traces (what the v3 query API answers), the fields read.
type otlpTraces struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []otlpAttribute `json:"attributes"`
		} `json:"resource"`
		ScopeSpans []struct {
			Scope struct {
				Name string `json:"name"`
			} `json:"scope"`
			Spans []struct {
				TraceID      string          `json:"traceId"`
				SpanID       string          `json:"spanId"`
				ParentSpanID string          `json:"parentSpanId"`
				Name         string          `json:"name"`
				Kind         int             `json:"kind"`
				Attributes   []otlpAttribute `json:"attributes"`
			} `json:"spans"`
		} `json:"scopeSpans"`
	} `json:"resourceSpans"`
}

type otlpAttribute struct {
	Key   string `json:"key"`
	Value struct {
		StringValue *string          `json:"stringValue"`
		IntValue    *json.RawMessage `json:"intValue"`
		BoolValue   *bool            `json:"boolValue"`
	} `json:"value"`
}

// spanKinds are OTLP's SpanKind numbers.
var spanKinds = map[int]string{1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}

func attributes(as []otlpAttribute) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		switch v := a.Value; {
		case v.StringValue != nil:
			m[a.Key] = *v.StringValue
		case v.IntValue != nil: // OTLP JSON writes 64-bit integers as strings; either is read
			m[a.Key] = strings.Trim(string(*v.IntValue), `"`)
		case v.BoolValue != nil:
			m[a.Key] = strconv.FormatBool(*v.BoolValue)
		}
	}
	return m
}

func (t otlpTraces) spans() []Span {
	var out []Span
	for _, rs := range t.ResourceSpans {
		service := attributes(rs.Resource.Attributes)["service.name"]
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				out = append(out, Span{Service: service, Scope: ss.Scope.Name, Name: sp.Name, Kind: spanKinds[sp.Kind], TraceID: sp.TraceID,
					SpanID: sp.SpanID, ParentSpanID: sp.ParentSpanID, Attributes: attributes(sp.Attributes)})
			}
		}
	}
	return out
}
