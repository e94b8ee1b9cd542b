//go:build unix

package graphql_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/graphql"
	"github.com/hubchantier/hubchantier/hubapi/graphql/generated"
)

// BenchmarkPage50 serves a page of 50 chantiers with their responsable
// from an in-memory use case: the cost of the GraphQL layer alone
// (parsing from the cache, limits, execution, JSON).
func BenchmarkPage50(b *testing.B) { benchPage50(b, false) }

// BenchmarkPage50Generic is the same page with the lists marshaled by
// gqlgen's generic code only (no one-pass encoder): what the encoder saves.
func BenchmarkPage50Generic(b *testing.B) { benchPage50(b, true) }

func benchPage50(b *testing.B, generic bool) {
	f := newFake(50)
	f.loadResponsables = true
	h := newHandler(b, f, graphql.Options{})
	body := `{"query":"query($after: String) { chantiers(first: 50, after: $after) { nodes { id code nom statut ville updatedAt responsable { id nom prenom } } pageInfo { hasNextPage endCursor } } }","variables":{}}`
	ctx := context.Background()
	if generic {
		ctx = generated.WithoutFastLists(ctx)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// reportCPU reports the process CPU time per operation ("cpu-ns/op"),
// which other work on the machine hardly moves, unlike ns/op.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
