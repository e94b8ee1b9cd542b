//go:build unix

package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchPage50Server is benchServer without the response cache, plus 50
// chantiers with a responsable (90 in all).
func benchPage50Server(b *testing.B) (http.Handler, string) {
	h, auth := benchServer(b, false)
	r := httptest.NewRequest(http.MethodGet, "/api/v1/users/me", nil)
	r.Header.Set("Authorization", auth)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	id := strings.TrimSuffix(strings.SplitN(strings.SplitN(w.Body.String(), `"id":`, 2)[1], ",", 2)[0], "}")
	for i := range 50 {
		body := fmt.Sprintf(`{"code":"CH-P50-%03d","nom":"Gymnase %d","adresse":"%d rue de la Paix","ville":"Lyon","responsable_id":%s}`, i, i, i, id)
		r := httptest.NewRequest(http.MethodPost, "/api/v1/chantiers", strings.NewReader(body))
		r.Header.Set("Authorization", auth)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("create chantier: %d %s", w.Code, w.Body)
		}
	}
	return h, auth
}

// BenchmarkPage50REST and BenchmarkPage50GraphQL serve the same first page
// of 50 chantiers with the same members and their responsable, through the
// whole pipeline (cache off), REST and GraphQL.
func BenchmarkPage50REST(b *testing.B) {
	h, auth := benchPage50Server(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers?limit=50&fields=id,code,nom,statut,ville,updated_at,responsable", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Authorization", auth)
		w := &benchWriter{h: make(http.Header)}
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

func BenchmarkPage50GraphQL(b *testing.B) {
	h, auth := benchPage50Server(b)
	const body = `{"query":"{ chantiers(first: 50) { nodes { id code nom statut ville updatedAt responsable { id nom prenom } } pageInfo { hasNextPage endCursor } } }"}`
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Authorization", auth)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/graphql-response+json")
		w := &benchWriter{h: make(http.Header)}
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
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
