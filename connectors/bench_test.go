package connectors_test

import (
	"context"
	"testing"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/secretbox"
)

// A connector that reads 50 records a call from memory: the Runner's own
// cost per call (timeout goroutine, commit, progress) without HTTP.
type memConnector struct{ page []connectors.Record }

func (memConnector) Type() string                                   { return "mem" }
func (memConnector) Check(context.Context, connectors.Config) error { return nil }
func (memConnector) HandleEvent(context.Context, connectors.Config, connectors.Event) error {
	return nil
}
func (m memConnector) Sync(_ context.Context, _ connectors.Config, s connectors.State) (connectors.Result, connectors.State, error) {
	return connectors.Result{Records: m.page}, s, nil
}

func BenchmarkRunnerCall(b *testing.B) {
	page := make([]connectors.Record, 50)
	for i := range page {
		page[i] = connectors.Record{Stream: "entries", ID: "e", Data: []byte(`{"hours":7.5}`)}
	}
	r := connectors.NewRunner(connectors.RunnerConfig{})
	job := connectors.Job{Key: "1", Connector: memConnector{page}, Spec: connectors.Spec{Type: "mem"}, Config: cfg(),
		Sink: connectors.CheckpointFunc(func(context.Context, []connectors.Record, connectors.State) error { return nil })}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Run(context.Background(), job); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSealerOpen(b *testing.B) {
	s, _ := connectors.ParseSealer("k:" + secretbox.GenerateKey())
	kid, ct, _ := s.Seal(cfg(), "42")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(kid, ct, "42"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConfigMasked(b *testing.B) {
	c := cfg()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Masked()
	}
}
