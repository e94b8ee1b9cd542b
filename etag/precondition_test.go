package etag_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/problem"
)

// timeFixture is the last modification of the resource in the tables below;
// its half second checks that HTTP-date comparisons are done in whole seconds.
var timeFixture = time.Date(2026, 3, 10, 12, 0, 0, 500_000_000, time.UTC)

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

var (
	dateBefore = httpDate(timeFixture.Add(-time.Hour))
	dateSame   = httpDate(timeFixture) // same second
	dateAfter  = httpDate(timeFixture.Add(time.Hour))
)

type hdr = map[string][]string

// TestEvaluateRFC9110 is the RFC 9110 §13 table: the comparison functions,
// "*" on existing and missing resources, and the §13.2.2 evaluation order.
func TestEvaluateRFC9110(t *testing.T) {
	cur := etag.VersionTag(3) // "v3"
	weakCur := mustTag(t, `W/"v3"`)
	tests := []struct {
		name    string
		method  string
		header  hdr
		current etag.Tag // default cur
		noTag   bool     // resource has no entity tag
		noLM    bool     // resource has no Last-Modified
		missing bool     // resource does not exist
		want    etag.Result
		failed  string // header named in the 412 problem
	}{
		// If-Match: strong comparison (§13.1.1).
		{name: "current If-Match → proceed", method: "PUT", header: hdr{"If-Match": {`"v3"`}}, want: etag.Proceed},
		{name: "stale If-Match → 412", method: "PUT", header: hdr{"If-Match": {`"v2"`}}, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "weak tag in If-Match never matches → 412", method: "PUT", header: hdr{"If-Match": {`W/"v3"`}}, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "weak current tag never satisfies If-Match → 412", method: "PUT", header: hdr{"If-Match": {`"v3"`}}, current: weakCur, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "If-Match list containing the current tag → proceed", method: "PATCH", header: hdr{"If-Match": {`"v1", "v3"`}}, want: etag.Proceed},
		{name: "If-Match list with OWS and empty elements → proceed", method: "PATCH", header: hdr{"If-Match": {` ,"v1" ,, "v3" ,`}}, want: etag.Proceed},
		{name: "If-Match split over two header lines → proceed", method: "PUT", header: hdr{"If-Match": {`"v1"`, `"v3"`}}, want: etag.Proceed},
		{name: "If-Match list without the current tag → 412", method: "DELETE", header: hdr{"If-Match": {`"v1", "v2"`}}, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "If-Match * on an existing resource → proceed", method: "PUT", header: hdr{"If-Match": {`*`}}, want: etag.Proceed},
		{name: "If-Match * on a missing resource → 412", method: "PUT", header: hdr{"If-Match": {`*`}}, missing: true, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "If-Match tag on a missing resource → 412", method: "PUT", header: hdr{"If-Match": {`"v3"`}}, missing: true, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "malformed If-Match → 412, never proceed", method: "PUT", header: hdr{"If-Match": {`v3`}}, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "empty If-Match is an empty list → 412", method: "PUT", header: hdr{"If-Match": {``}}, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "If-Match on a resource without a tag → 412", method: "PUT", header: hdr{"If-Match": {`"v3"`}}, noTag: true, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "stale If-Match on GET → 412", method: "GET", header: hdr{"If-Match": {`"v2"`}}, want: etag.PreconditionFailed, failed: "If-Match"},
		{name: "POST (validate action) with stale If-Match → 412", method: "POST", header: hdr{"If-Match": {`"v2"`}}, want: etag.PreconditionFailed, failed: "If-Match"},

		// If-Unmodified-Since (§13.1.4).
		{name: "If-Unmodified-Since after the last modification → proceed", method: "PUT", header: hdr{"If-Unmodified-Since": {dateAfter}}, want: etag.Proceed},
		{name: "If-Unmodified-Since in the same second → proceed", method: "PUT", header: hdr{"If-Unmodified-Since": {dateSame}}, want: etag.Proceed},
		{name: "If-Unmodified-Since before the last modification → 412", method: "PUT", header: hdr{"If-Unmodified-Since": {dateBefore}}, want: etag.PreconditionFailed, failed: "If-Unmodified-Since"},
		{name: "If-Unmodified-Since in RFC 850 form is understood → 412", method: "PUT", header: hdr{"If-Unmodified-Since": {timeFixture.Add(-time.Hour).Format(time.RFC850)}}, want: etag.PreconditionFailed, failed: "If-Unmodified-Since"},
		{name: "If-Unmodified-Since in asctime form is understood → 412", method: "PUT", header: hdr{"If-Unmodified-Since": {timeFixture.Add(-time.Hour).Format(time.ANSIC)}}, want: etag.PreconditionFailed, failed: "If-Unmodified-Since"},
		{name: "invalid If-Unmodified-Since is ignored → proceed", method: "PUT", header: hdr{"If-Unmodified-Since": {"yesterday"}}, want: etag.Proceed},
		{name: "If-Unmodified-Since with two dates is ignored → proceed", method: "PUT", header: hdr{"If-Unmodified-Since": {dateBefore, dateBefore}}, want: etag.Proceed},
		{name: "If-Unmodified-Since without a known Last-Modified is ignored → proceed", method: "PUT", header: hdr{"If-Unmodified-Since": {dateBefore}}, noLM: true, want: etag.Proceed},
		{name: "If-Unmodified-Since on a missing resource is ignored → proceed", method: "PUT", header: hdr{"If-Unmodified-Since": {dateBefore}}, missing: true, want: etag.Proceed},

		// Precedence of If-Match over If-Unmodified-Since (§13.2.2 steps 1-2).
		{name: "true If-Match wins over a failing If-Unmodified-Since → proceed", method: "PUT",
			header: hdr{"If-Match": {`"v3"`}, "If-Unmodified-Since": {dateBefore}}, want: etag.Proceed},
		{name: "false If-Match wins over a passing If-Unmodified-Since → 412", method: "PUT",
			header: hdr{"If-Match": {`"v2"`}, "If-Unmodified-Since": {dateAfter}}, want: etag.PreconditionFailed, failed: "If-Match"},

		// If-None-Match: weak comparison (§13.1.2).
		{name: "GET If-None-Match with the current tag → 304", method: "GET", header: hdr{"If-None-Match": {`"v3"`}}, want: etag.NotModified},
		{name: "GET If-None-Match with the weak form of the current tag → 304", method: "GET", header: hdr{"If-None-Match": {`W/"v3"`}}, want: etag.NotModified},
		{name: "GET If-None-Match strong form of a weak current tag → 304", method: "GET", header: hdr{"If-None-Match": {`"v3"`}}, current: weakCur, want: etag.NotModified},
		{name: "GET If-None-Match list containing the current tag → 304", method: "GET", header: hdr{"If-None-Match": {`"v1", W/"v3"`}}, want: etag.NotModified},
		{name: "GET If-None-Match with a stale tag → proceed", method: "GET", header: hdr{"If-None-Match": {`"v2"`}}, want: etag.Proceed},
		{name: "HEAD If-None-Match with the current tag → 304", method: "HEAD", header: hdr{"If-None-Match": {`"v3"`}}, want: etag.NotModified},
		{name: "GET If-None-Match * on an existing resource → 304", method: "GET", header: hdr{"If-None-Match": {`*`}}, want: etag.NotModified},
		{name: "GET If-None-Match * on a missing resource → proceed", method: "GET", header: hdr{"If-None-Match": {`*`}}, missing: true, want: etag.Proceed},
		{name: "malformed If-None-Match on GET is ignored → proceed", method: "GET", header: hdr{"If-None-Match": {`v3`}}, want: etag.Proceed},
		{name: "PUT If-None-Match * on an existing resource → 412", method: "PUT", header: hdr{"If-None-Match": {`*`}}, want: etag.PreconditionFailed, failed: "If-None-Match"},
		{name: "PUT If-None-Match * on a missing resource (create only) → proceed", method: "PUT", header: hdr{"If-None-Match": {`*`}}, missing: true, want: etag.Proceed},
		{name: "PUT If-None-Match with the current tag → 412", method: "PUT", header: hdr{"If-None-Match": {`"v3"`}}, want: etag.PreconditionFailed, failed: "If-None-Match"},
		{name: "DELETE If-None-Match with the weak current tag → 412", method: "DELETE", header: hdr{"If-None-Match": {`W/"v3"`}}, want: etag.PreconditionFailed, failed: "If-None-Match"},
		{name: "POST If-None-Match with the current tag → 412", method: "POST", header: hdr{"If-None-Match": {`"v3"`}}, want: etag.PreconditionFailed, failed: "If-None-Match"},
		{name: "PATCH If-None-Match with a stale tag → proceed", method: "PATCH", header: hdr{"If-None-Match": {`"v2"`}}, want: etag.Proceed},
		{name: "malformed If-None-Match on PUT → 412", method: "PUT", header: hdr{"If-None-Match": {`*, "v3"`}}, want: etag.PreconditionFailed, failed: "If-None-Match"},

		// If-Match passes, then If-None-Match is still evaluated (step 3).
		{name: "true If-Match then matching If-None-Match on PUT → 412", method: "PUT",
			header: hdr{"If-Match": {`"v3"`}, "If-None-Match": {`"v3"`}}, want: etag.PreconditionFailed, failed: "If-None-Match"},

		// If-Modified-Since (§13.1.3).
		{name: "GET If-Modified-Since in the same second → 304", method: "GET", header: hdr{"If-Modified-Since": {dateSame}}, want: etag.NotModified},
		{name: "GET If-Modified-Since after the last modification → 304", method: "GET", header: hdr{"If-Modified-Since": {dateAfter}}, want: etag.NotModified},
		{name: "GET If-Modified-Since before the last modification → proceed", method: "GET", header: hdr{"If-Modified-Since": {dateBefore}}, want: etag.Proceed},
		{name: "HEAD If-Modified-Since after the last modification → 304", method: "HEAD", header: hdr{"If-Modified-Since": {dateAfter}}, want: etag.NotModified},
		{name: "If-Modified-Since on PUT is ignored → proceed", method: "PUT", header: hdr{"If-Modified-Since": {dateAfter}}, want: etag.Proceed},
		{name: "invalid If-Modified-Since is ignored → proceed", method: "GET", header: hdr{"If-Modified-Since": {"soon"}}, want: etag.Proceed},
		{name: "If-Modified-Since without a known Last-Modified is ignored → proceed", method: "GET", header: hdr{"If-Modified-Since": {dateAfter}}, noLM: true, want: etag.Proceed},

		// Precedence of If-None-Match over If-Modified-Since (§13.2.2 steps 3-4).
		{name: "stale If-None-Match wins over a fresh If-Modified-Since → proceed", method: "GET",
			header: hdr{"If-None-Match": {`"v2"`}, "If-Modified-Since": {dateAfter}}, want: etag.Proceed},
		{name: "matching If-None-Match wins over an old If-Modified-Since → 304", method: "GET",
			header: hdr{"If-None-Match": {`"v3"`}, "If-Modified-Since": {dateBefore}}, want: etag.NotModified},
		{name: "malformed If-None-Match still disables If-Modified-Since → proceed", method: "GET",
			header: hdr{"If-None-Match": {`x`}, "If-Modified-Since": {dateAfter}}, want: etag.Proceed},

		// Methods that ignore preconditions (§13.2.1) and plain requests.
		{name: "OPTIONS ignores a failing If-Match → proceed", method: "OPTIONS", header: hdr{"If-Match": {`"v2"`}}, want: etag.Proceed},
		{name: "no conditional header → proceed", method: "PUT", header: hdr{}, want: etag.Proceed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/api/v1/chantiers/1", nil)
			for k, vs := range tt.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			current := cur
			if !tt.current.IsZero() {
				current = tt.current
			}
			if tt.noTag {
				current = etag.Tag{}
			}
			lm := timeFixture
			if tt.noLM {
				lm = time.Time{}
			}
			if got := etag.Evaluate(r, current, lm, !tt.missing); got != tt.want {
				t.Fatalf("Evaluate = %v; want %v", got, tt.want)
			}

			err := etag.CheckPreconditions(r, current, lm, !tt.missing)
			switch tt.want {
			case etag.Proceed:
				if err != nil {
					t.Fatalf("CheckPreconditions = %v; want nil", err)
				}
			case etag.NotModified:
				if !errors.Is(err, etag.ErrNotModified) {
					t.Fatalf("CheckPreconditions = %v; want ErrNotModified", err)
				}
			case etag.PreconditionFailed:
				d, ok := problem.As(err)
				if !ok || d.Status != http.StatusPreconditionFailed || d.Type != "precondition-failed" {
					t.Fatalf("CheckPreconditions = %v; want 412 problem details", err)
				}
				if d.Extensions["precondition"] != tt.failed {
					t.Fatalf("412 names %v; want %s", d.Extensions["precondition"], tt.failed)
				}
			}
		})
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[etag.Result]string{etag.Proceed: "Proceed", etag.NotModified: "NotModified",
		etag.PreconditionFailed: "PreconditionFailed", etag.Result(9): "Result(?)"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q; want %q", int(r), r.String(), want)
		}
	}
}

func TestWriteNotModified(t *testing.T) {
	rec := httptest.NewRecorder()
	hd := rec.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", "120")
	hd.Set("Content-Encoding", "gzip")
	hd.Set("Last-Modified", dateSame)
	hd.Set("Cache-Control", "private, no-cache")
	hd.Set("Vary", "Authorization")
	hd.Set("Expires", dateAfter)
	hd.Set("Content-Location", "/api/v1/chantiers/1")
	etag.WriteNotModified(rec, etag.VersionTag(3))
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("status %d body %q", rec.Code, rec.Body)
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Last-Modified"} {
		if v := rec.Header().Get(k); v != "" {
			t.Errorf("304 carries %s: %q", k, v)
		}
	}
	for k, want := range map[string]string{"ETag": `"v3"`, "Cache-Control": "private, no-cache", "Vary": "Authorization",
		"Expires": dateAfter, "Content-Location": "/api/v1/chantiers/1"} {
		if v := rec.Header().Get(k); v != want {
			t.Errorf("304 %s = %q; want %q", k, v, want)
		}
	}
}

func TestRequirePrecondition(t *testing.T) {
	reached := false
	h := etag.RequirePrecondition(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.WriteHeader(http.StatusNoContent)
	}))
	tests := []struct {
		name   string
		method string
		header hdr
		want   int
	}{
		{name: "unconditional PUT → 428", method: "PUT", header: hdr{}, want: http.StatusPreconditionRequired},
		{name: "unconditional PATCH → 428", method: "PATCH", header: hdr{}, want: http.StatusPreconditionRequired},
		{name: "unconditional DELETE → 428", method: "DELETE", header: hdr{}, want: http.StatusPreconditionRequired},
		{name: "unconditional POST → 428", method: "POST", header: hdr{}, want: http.StatusPreconditionRequired},
		{name: "If-Modified-Since does not make a PUT conditional → 428", method: "PUT", header: hdr{"If-Modified-Since": {dateSame}}, want: http.StatusPreconditionRequired},
		{name: "PUT with If-Match reaches the handler", method: "PUT", header: hdr{"If-Match": {`"v3"`}}, want: http.StatusNoContent},
		{name: "PUT with malformed If-Match reaches the handler (which answers 412)", method: "PUT", header: hdr{"If-Match": {`v3`}}, want: http.StatusNoContent},
		{name: "PUT with If-None-Match * reaches the handler", method: "PUT", header: hdr{"If-None-Match": {`*`}}, want: http.StatusNoContent},
		{name: "DELETE with If-Unmodified-Since reaches the handler", method: "DELETE", header: hdr{"If-Unmodified-Since": {dateSame}}, want: http.StatusNoContent},
		{name: "GET is never required to be conditional", method: "GET", header: hdr{}, want: http.StatusNoContent},
		{name: "HEAD is never required to be conditional", method: "HEAD", header: hdr{}, want: http.StatusNoContent},
		{name: "OPTIONS is never required to be conditional", method: "OPTIONS", header: hdr{}, want: http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached = false
			r := httptest.NewRequest(tt.method, "/api/v1/chantiers/1", nil)
			for k, vs := range tt.header {
				r.Header[k] = vs
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Fatalf("status %d; want %d", rec.Code, tt.want)
			}
			if reached != (tt.want == http.StatusNoContent) {
				t.Fatalf("handler reached = %v", reached)
			}
			if tt.want == http.StatusPreconditionRequired {
				var d map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
					t.Fatal(err)
				}
				if rec.Header().Get("Content-Type") != problem.ContentType ||
					d["type"] != problem.DefaultTypeBase+"precondition-required" || d["status"] != float64(428) {
					t.Fatalf("428 body %s", rec.Body)
				}
			}
		})
	}
	t.Run("nil handler panics when the route is built", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		etag.RequirePrecondition(nil)
	})
}
