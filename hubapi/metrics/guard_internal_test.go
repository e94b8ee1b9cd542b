package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestGuardBoundsBcryptAndRemembersAcceptedCredentials(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	g, err := newGuard(AccessConfig{Username: "prometheus", PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	try := func(pass string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = "127.0.0.1:1"
		req.SetBasicAuth("prometheus", pass)
		rec := httptest.NewRecorder()
		if g.allow(rec, req) {
			rec.WriteHeader(http.StatusOK)
		}
		return rec
	}

	if rec := try("s3cret"); rec.Code != http.StatusOK {
		t.Fatalf("first scrape: %d", rec.Code)
	}
	g.bcryptOK <- struct{}{} // another bcrypt check is running
	defer func() { <-g.bcryptOK }()

	t.Run("accepted credentials skip bcrypt while it is busy", func(t *testing.T) {
		if rec := try("s3cret"); rec.Code != http.StatusOK {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("other credentials get 429 with Retry-After while bcrypt is busy", func(t *testing.T) {
		rec := try("guess")
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
	})
}

func TestFixExposition(t *testing.T) {
	in := "# HELP go_cgo_calls_count\n# TYPE go_cgo_calls_count counter\ngo_cgo_calls_count 1\n" +
		"# HELP process_io_read_bytes_total\n# TYPE process_io_read_bytes_total gauge\nprocess_io_read_bytes_total 42\n" +
		"# HELP go_goroutines\n# TYPE go_goroutines gauge\ngo_goroutines 7\n" +
		"# HELP api_cache_hits_total text the library might write\n# TYPE api_cache_hits_total counter\napi_cache_hits_total 0\n" +
		"# HELP unknown_total\n# TYPE unknown_total counter\nunknown_total 3\n" +
		"go_gc_duration_seconds{quantile=\"0\"} 0\n"
	want := "# HELP process_io_read_bytes_total " + help["process_io_read_bytes_total"] + "\n" +
		"# TYPE process_io_read_bytes_total counter\nprocess_io_read_bytes_total 42\n" +
		"# HELP go_goroutines " + help["go_goroutines"] + "\n# TYPE go_goroutines gauge\ngo_goroutines 7\n" +
		"# HELP api_cache_hits_total " + help["api_cache_hits_total"] + "\n# TYPE api_cache_hits_total counter\napi_cache_hits_total 0\n" +
		"# HELP unknown_total\n# TYPE unknown_total counter\nunknown_total 3\n" +
		"go_gc_duration_seconds{quantile=\"0\"} 0\n"
	if got := string(fixExposition([]byte(in))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
