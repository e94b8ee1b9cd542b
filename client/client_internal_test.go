package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/client/apiv1"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"golang.org/x/oauth2"
)

func TestNewChecksItsConfiguration(t *testing.T) {
	key := WithAPIKey("hck_0123")
	for _, tc := range []struct {
		name string
		url  string
		opts []Option
		ok   bool
	}{
		{"https with key", "https://hub.example.com", []Option{key}, true},
		{"path prefix", "https://example.com/hub/", []Option{key}, true},
		{"http on loopback", "http://127.0.0.1:8080", []Option{key}, true},
		{"http on localhost", "http://localhost:8080", []Option{key}, true},
		{"http on ::1", "http://[::1]:8080", []Option{key}, true},
		{"http elsewhere with a key → refused", "http://hub.example.com", []Option{key}, false},
		{"http elsewhere with a token source → refused", "http://10.1.2.3", []Option{WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))}, false},
		{"http elsewhere, insecure allowed", "http://hub.example.com", []Option{key, WithInsecureHTTP()}, true},
		{"http elsewhere without credentials", "http://hub.example.com", nil, true},
		{"not a key", "https://hub.example.com", []Option{WithAPIKey("secret")}, false},
		{"no scheme", "hub.example.com", []Option{key}, false},
		{"ftp", "ftp://hub.example.com", []Option{key}, false},
		{"query", "https://hub.example.com/?a=1", []Option{key}, false},
		{"user info", "https://u:p@hub.example.com", []Option{key}, false},
		{"bad url", "https://hub example.com\x7f", []Option{key}, false},
		{"nil http client", "https://hub.example.com", []Option{WithHTTPClient(nil)}, false},
		{"nil token source", "https://hub.example.com", []Option{WithTokenSource(nil)}, false},
		{"user agent with a line break", "https://hub.example.com", []Option{WithUserAgent("a\r\nX-Evil: 1")}, false},
		{"negative cache", "https://hub.example.com", []Option{WithETagCache(-1)}, false},
		{"zero response limit", "https://hub.example.com", []Option{WithMaxResponseBytes(0)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.url, tc.opts...)
			if (err == nil) != tc.ok {
				t.Errorf("New(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
	c, err := New("https://example.com/hub/", key)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.url("/api/v1/chantiers", "limit=2"); got != "https://example.com/hub/api/v1/chantiers?limit=2" {
		t.Errorf("url = %q", got)
	}
}

func TestEncodeQuery(t *testing.T) {
	statut := apiv1.ListChantiersParamsStatut("en_cours")
	limit, id := 5, int64(7)
	q, err := encodeQuery(&apiv1.ListChantiersParams{Statut: &statut, Limit: &limit, ResponsableId: &id, IfNoneMatch: new(string)})
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Encode(); got != "limit=5&responsable_id=7&statut=en_cours" {
		t.Errorf("query = %q (header parameters must stay out)", got)
	}
	d := openapi_types.Date{Time: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	q, err = encodeQuery(apiv1.GetPlanningParams{From: d, To: d})
	if err != nil || q.Encode() != "from=2026-03-02&to=2026-03-02" {
		t.Errorf("planning query = %q %v", q.Encode(), err)
	}
	if q, err := encodeQuery((*apiv1.ListChantiersParams)(nil)); err != nil || len(q) != 0 {
		t.Errorf("nil params → %v %v", q, err)
	}
	if _, err := encodeQuery(42); err == nil {
		t.Error("a non-struct was encoded")
	}
	type odd struct {
		F  float64  `form:"f"`
		B  bool     `form:"b"`
		U  uint     `form:"u"`
		C  chan int `form:"c,omitempty"`
		No string
	}
	if q, err := encodeQuery(odd{F: 1.5, B: true, U: 3}); err != nil || q.Encode() != "b=true&f=1.5&u=3" {
		t.Errorf("odd → %q %v", q.Encode(), err)
	}
	if _, err := encodeQuery(odd{C: make(chan int)}); err == nil {
		t.Error("a channel was encoded")
	}
}

// TestErrorKeepsEveryProblemMember fills every member of the document's
// Problem schema (the generated apiv1.Problem) and checks that *Error
// reads each one, as a field or as an extension: a member added to the
// document cannot be dropped by the client.
func TestErrorKeepsEveryProblemMember(t *testing.T) {
	var p apiv1.Problem
	fill(reflect.ValueOf(&p).Elem())
	p.Status = 412
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatal(err)
	}
	if n := reflect.TypeFor[apiv1.Problem]().NumField(); len(want) != n {
		t.Fatalf("filled problem has %d members, the schema %d", len(want), n)
	}
	h := http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"r1"}, "Retry-After": {"3"}}
	e := decodeError("PATCH", "/api/v1/chantiers/1", &response{status: 412, header: h, body: body})
	std, _ := json.Marshal(struct {
		Status   int          `json:"status"`
		Type     string       `json:"type"`
		Title    string       `json:"title"`
		Detail   string       `json:"detail"`
		Instance string       `json:"instance"`
		Errors   []FieldError `json:"errors"`
	}{e.Status, e.Type, e.Title, e.Detail, e.Instance, e.Errors})
	var got map[string]json.RawMessage
	_ = json.Unmarshal(std, &got)
	for k, v := range e.Extensions {
		got[k] = v
	}
	for k, v := range want {
		var a, b any
		_ = json.Unmarshal(v, &a)
		_ = json.Unmarshal(got[k], &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("member %q: sent %s, read %s", k, v, got[k])
		}
	}
	if e.RequestID != "r1" || e.RetryAfter != 3*time.Second || !errors.Is(e, ErrPreconditionFailed) || errors.Is(e, ErrNotFound) {
		t.Errorf("error %+v: request id, Retry-After or status sentinel wrong", e)
	}
}

// fill sets every exported field of v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("x-" + strings.ToLower(v.Type().Name()))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(7)
	}
}

func TestDecodeErrorOfAnyBody(t *testing.T) {
	for _, tc := range []struct {
		ctype, body string
		code        string
	}{
		{"text/html", "<h1>Bad gateway</h1>", ""},
		{"application/problem+json", "{not json", ""},
		{"application/problem+json", `{"type":"https://x/errors/conflict","title":"Conflict","status":409}`, "conflict"},
		{"application/problem+json", `{"type":"https://x/errors/conflict","status":500}`, "conflict"},
		{"", "", ""},
	} {
		e := decodeError("GET", "/p", &response{status: 409, header: http.Header{"Content-Type": {tc.ctype}}, body: []byte(tc.body)})
		if e.Status != 409 || e.Title == "" || e.Code() != tc.code || !errors.Is(e, ErrConflict) {
			t.Errorf("%s %q → %+v, want status 409 from the answer, code %q", tc.ctype, tc.body, e, tc.code)
		}
		if strings.Contains(e.Error(), "Bad gateway") {
			t.Errorf("Error() repeats a non-problem body: %q", e.Error())
		}
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(503, "application/problem+json", `{"type":"https://x/errors/a","title":"t","status":503,"errors":[{"field":"a","message":"m"}],"x":[1]}`, "5")
	f.Add(429, "application/json", `{"status":"nope"}`, "Mon, 07 Dec 2026 10:00:30 GMT")
	f.Add(400, "text/plain", "oops", "")
	f.Fuzz(func(t *testing.T, status int, ctype, body, retryAfter string) {
		if status < 400 || status > 599 {
			return
		}
		h := http.Header{"Content-Type": {ctype}, "Retry-After": {retryAfter}}
		e := decodeError("GET", "/p", &response{status: status, header: h, body: []byte(body)})
		if e.Status != status || e.Title == "" || e.Type == "" || e.RetryAfter < 0 {
			t.Fatalf("→ %+v", e)
		}
		_ = e.Error()
		_ = e.Code()
	})
}
