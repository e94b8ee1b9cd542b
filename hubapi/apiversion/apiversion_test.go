package apiversion_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/apiversion"
)

var policy = apiversion.Policy{
	Deprecation: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	Sunset:      apiversion.DefaultSunset,
	Link:        "/docs/migration-v1-v2",
}

func TestOf(t *testing.T) {
	for path, want := range map[string]apiversion.Version{
		"/api/v1": apiversion.V1, "/api/v1/chantiers": apiversion.V1, "/api/v2/chantiers/1": apiversion.V2,
		"/api/v10/x": "", "/api/v1x": "", "/docs": "", "/": "", "/api/v3/x": "",
	} {
		if got := apiversion.Of(path); got != want {
			t.Errorf("Of(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestMiddlewarePutsTheVersionInTheContext(t *testing.T) {
	var got apiversion.Version
	h := apiversion.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = apiversion.From(r.Context()) }))
	for path, want := range map[string]apiversion.Version{"/api/v2/stats": apiversion.V2, "/api/v1/stats": apiversion.V1, "/healthz": ""} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		if got != want {
			t.Errorf("%s: version %q, want %q", path, got, want)
		}
	}
}

func TestHeaders(t *testing.T) {
	h := apiversion.Headers(apiversion.V1, policy)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("link") != "" {
			w.Header().Set("Link", `</api/v1/chantiers?cursor=abc>; rel="next"`)
		}
		if r.URL.Query().Get("status") == "404" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	serve := func(target string) http.Header {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		return rec.Result().Header
	}
	t.Run("every v1 answer carries Deprecation, Sunset, the links and the notice", func(t *testing.T) {
		for _, target := range []string{"/api/v1/chantiers", "/api/v1/nothing?status=404"} {
			hd := serve(target)
			if got := hd.Get("Deprecation"); got != "@1796083200" {
				t.Errorf("%s: Deprecation %q (RFC 9745: @<unix time>)", target, got)
			}
			if got := hd.Get("Sunset"); got != "Thu, 31 Dec 2026 23:59:59 GMT" {
				t.Errorf("%s: Sunset %q", target, got)
			}
			if got := hd.Get("X-API-Deprecation"); got != "v1 deprecated, migrate to v2" {
				t.Errorf("%s: X-API-Deprecation %q", target, got)
			}
			link := hd.Get("Link")
			if !strings.Contains(link, `</docs/migration-v1-v2>; rel="deprecation"`) || !strings.Contains(link, `</docs/migration-v1-v2>; rel="sunset"`) {
				t.Errorf("%s: Link %q", target, link)
			}
		}
	})
	t.Run("the links are appended to a handler's Link", func(t *testing.T) {
		link := serve("/api/v1/chantiers?link=1").Get("Link")
		if !strings.HasPrefix(link, `</api/v1/chantiers?cursor=abc>; rel="next", </docs/migration-v1-v2>; rel="deprecation"`) {
			t.Errorf("Link %q", link)
		}
	})
	t.Run("absent on v2 and outside the API", func(t *testing.T) {
		for _, target := range []string{"/api/v2/chantiers", "/docs"} {
			hd := serve(target)
			for _, k := range []string{"Deprecation", "Sunset", "X-API-Deprecation", "Link"} {
				if hd.Get(k) != "" {
					t.Errorf("%s: %s %q", target, k, hd.Get(k))
				}
			}
		}
	})
}

func TestPolicyValidate(t *testing.T) {
	early := policy
	early.Sunset = policy.Deprecation.Add(-time.Second)
	if err := early.Validate(); !errors.Is(err, apiversion.ErrSunsetBeforeDeprecation) {
		t.Errorf("sunset before deprecation: %v", err)
	}
	same := policy
	same.Sunset = policy.Deprecation
	if err := same.Validate(); err != nil {
		t.Errorf("sunset at the deprecation: %v", err)
	}
	for _, bad := range []apiversion.Policy{{}, {Deprecation: policy.Deprecation, Sunset: policy.Sunset, Link: "<x>"}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Headers accepted an invalid policy")
		}
	}()
	apiversion.Headers(apiversion.V1, early)
}
