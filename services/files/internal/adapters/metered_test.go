package adapters

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

type scanFunc func() (bool, string, error)

func (f scanFunc) Scan(context.Context, io.Reader) (bool, string, error) { return f() }

// Every scan is counted by verdict, and the wrapped scanner's answer passes through unchanged.
func TestMetered_CountsScansByVerdict(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	scans, err := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("t").Int64Counter("acme_file_scans")
	if err != nil {
		t.Fatal(err)
	}
	down := errors.New("clamd down")
	for _, s := range []scanFunc{
		func() (bool, string, error) { return true, "OK", nil },
		func() (bool, string, error) { return true, "OK", nil },
		func() (bool, string, error) { return false, "Eicar-Signature FOUND", nil },
		func() (bool, string, error) { return false, "", down },
	} {
		want1, want2, want3 := s()
		clean, verdict, err := Metered{Scanner: s, Scans: scans}.Scan(context.Background(), strings.NewReader("x"))
		if clean != want1 || verdict != want2 || !errors.Is(err, want3) && err != want3 {
			t.Fatalf("Scan answered %v %q %v, the scanner %v %q %v", clean, verdict, err, want1, want2, want3)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, p := range rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := p.Attributes.Value(attribute.Key("verdict"))
		got[v.AsString()] = p.Value
	}
	if got["clean"] != 2 || got["infected"] != 1 || got["error"] != 1 || len(got) != 3 {
		t.Errorf("counted %v", got)
	}
}
