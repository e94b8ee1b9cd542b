package rest

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
)

func TestParseAPIKeyPatch(t *testing.T) {
	p, err := parseAPIKeyPatch([]byte(`{"ip_allowlist":null}`))
	if err != nil || !p.IPAllowlistSet || p.IPAllowlist != nil {
		t.Fatalf("null: %+v %v", p, err)
	}
	p, err = parseAPIKeyPatch([]byte(`{"name":"n"}`))
	if err != nil || p.IPAllowlistSet || *p.Name != "n" {
		t.Fatalf("absent allow-list: %+v %v", p, err)
	}
	for _, body := range []string{`{"name":null}`, `{"auto_rotate":null}`, `{"ip_allowlist":[1]}`, `{"ip_allowlist":["10.0.0.0/33"]}`,
		`{"rotation_interval_days":0}`, `{"rotation_interval_days":1.5}`} {
		if _, err := parseAPIKeyPatch([]byte(body)); !errors.Is(err, hubapi.ErrInvalid) {
			t.Errorf("%s: %v, want a validation error", body, err)
		}
	}
	if _, err := parseAPIKeyPatch([]byte(`{"other":1}`)); err == nil {
		t.Error("an unknown member was accepted")
	}
}

// FuzzParseAPIKeyPatch: any body is a patch or an error a client is
// answered with (400 or 422), never a panic.
func FuzzParseAPIKeyPatch(f *testing.F) {
	for _, s := range []string{`{}`, `{"ip_allowlist":null}`, `{"ip_allowlist":["10.0.0.0/8","::1"]}`, `{"name":"x","auto_rotate":true,"rotation_interval_days":90}`,
		`{"ip_allowlist":[null]}`, `{"name":"\u0000"}`, `[]`, `null`, `{"Name":"x"}`, `{"name":"a","name":"b"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseAPIKeyPatch(body)
		if err != nil {
			if status := problemStatus(err); status != 400 && status != 422 {
				t.Fatalf("%q: status %d for %v", body, status, err)
			}
			return
		}
		if p.IPAllowlistSet {
			if _, err := hubapi.ParseIPAllowlist(p.IPAllowlist); err != nil {
				t.Fatalf("accepted a bad allow-list %q", p.IPAllowlist)
			}
		}
	})
}

// problemStatus is the status writeError answers err with.
func problemStatus(err error) int {
	rec := httptest.NewRecorder()
	(&API{log: slog.New(slog.DiscardHandler)}).writeError(rec, httptest.NewRequest(http.MethodPatch, "/api/v1/admin/api-keys/1", nil), err)
	return rec.Code
}
