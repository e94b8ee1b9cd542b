package pagination_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

func TestParseRequestAcceptsValidParameters(t *testing.T) {
	p := newItemPaginator(t)
	tests := []struct {
		query     string
		wantLimit int
		wantSort  string
	}{
		{"", 20, "-at,-id"},
		{"limit=1", 1, "-at,-id"},
		{"limit=100", 100, "-at,-id"},
		{"limit=050", 50, "-at,-id"},
		{"sort=name", 20, "name,id"},
		{"sort=-day,name", 20, "-day,name,id"},
		{"sort=-day,-name", 20, "-day,-name,-id"},
		{"sort=name,-day", 20, "name,-day,-id"},
		{"sort=-id", 20, "-id"},
		{"sort=grp,-id,name", 20, "grp,-id"},
		{"sort=", 20, "-at,-id"},
		{"cursor=", 20, "-at,-id"},
		{"statut=ouvert&page=3", 20, "-at,-id"},
	}
	for _, tt := range tests {
		t.Run("?"+tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			req, err := p.ParseRequest(q)
			if err != nil {
				t.Fatal(err)
			}
			if req.Limit() != tt.wantLimit || req.Sort().String() != tt.wantSort || req.HasCursor() {
				t.Fatalf("got limit %d sort %q cursor %v, want limit %d sort %q and no cursor",
					req.Limit(), req.Sort(), req.HasCursor(), tt.wantLimit, tt.wantSort)
			}
		})
	}
}

// writeProblem answers err the way a handler does and returns the response.
func writeProblem(t *testing.T, err error) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	d, ok := problem.As(err)
	if !ok {
		t.Fatalf("error %v carries no problem details", err)
	}
	rec := httptest.NewRecorder()
	problem.Write(rec, httptest.NewRequest(http.MethodGet, "/api/v1/items", nil), d)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	return rec, body
}

func TestParseRequestRejectsInvalidParametersWith400(t *testing.T) {
	p := newItemPaginator(t)
	tests := []struct {
		query      string
		wantFields []string
	}{
		{"limit=0", []string{"limit"}},
		{"limit=101", []string{"limit"}},
		{"limit=-1", []string{"limit"}},
		{"limit=abc", []string{"limit"}},
		{"limit=", []string{"limit"}},
		{"limit=%2B5", []string{"limit"}},
		{"limit=1e2", []string{"limit"}},
		{"limit=%205", []string{"limit"}},
		{"limit=5.0", []string{"limit"}},
		{"limit=99999999999999999999", []string{"limit"}},
		{"limit=10&limit=20", []string{"limit"}},
		{"sort=unknown", []string{"sort"}},
		{"sort=nom", []string{"sort"}},
		{"sort=name,name", []string{"sort"}},
		{"sort=name,-name", []string{"sort"}},
		{"sort=name,,grp", []string{"sort"}},
		{"sort=-", []string{"sort"}},
		{"sort=,", []string{"sort"}},
		{"sort=a,b,c,d,e,f,g", []string{"sort"}},
		{"sort=name&sort=grp", []string{"sort"}},
		{"cursor=a&cursor=b", []string{"cursor"}},
		{"limit=0&sort=unknown", []string{"limit", "sort"}},
	}
	for _, tt := range tests {
		t.Run("?"+tt.query+" → 400", func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			req, err := p.ParseRequest(q)
			if err == nil {
				t.Fatalf("accepted: limit %d sort %q", req.Limit(), req.Sort())
			}
			var re *pagination.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *RequestError", err)
			}
			if errors.Is(err, pagination.ErrInvalidCursor) {
				t.Fatal("a parameter error matches ErrInvalidCursor")
			}
			rec, body := writeProblem(t, err)
			if rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Type") != problem.ContentType {
				t.Fatalf("got %d %s", rec.Code, rec.Header().Get("Content-Type"))
			}
			if body["type"] != problem.DefaultTypeBase+pagination.ProblemInvalidParameter {
				t.Fatalf("type %v", body["type"])
			}
			var fields []string
			for _, e := range body["errors"].([]any) {
				fields = append(fields, e.(map[string]any)["field"].(string))
			}
			fields = slices.Compact(fields)
			if !slices.Equal(fields, tt.wantFields) {
				t.Fatalf("field errors on %v, want %v", fields, tt.wantFields)
			}
		})
	}

	t.Run("unknown sort field → the allowed fields are listed", func(t *testing.T) {
		_, err := p.ParseRequest(url.Values{"sort": {"nom"}})
		_, body := writeProblem(t, err)
		allowed, _ := json.Marshal(body["allowed"])
		if string(allowed) != `["at","day","grp","id","name","score"]` {
			t.Fatalf("allowed = %s", allowed)
		}
	})
	t.Run("a long unknown sort field is not echoed whole", func(t *testing.T) {
		long := strings.Repeat("x", 500)
		_, err := p.ParseRequest(url.Values{"sort": {long}})
		rec, _ := writeProblem(t, err)
		if strings.Contains(rec.Body.String(), long) {
			t.Fatal("the whole field name is echoed")
		}
	})
}

// TestSortGrammar pins the one "sort" syntax: fields separated by ",",
// each optionally prefixed by "-", nothing else.
func TestSortGrammar(t *testing.T) {
	spec := itemSpec()
	spec.MaxSortFields = 4
	p := pagination.MustNew(mustCodec(t, [][]byte{key1}), spec)
	tests := []struct {
		name     string
		sort     string // the decoded value, as ParseRequest sees it
		want     string // resolved order; "" for a 400 naming "sort"
		wantText string // in the field message
	}{
		{"descending and ascending fields → ok", "-name,id", "-name,id", ""},
		{"four fields → ok", "grp,-name,day,at", "grp,-name,day,at,id", ""},
		{"four fields ending on the id → ok", "grp,name,day,-id", "grp,name,day,-id", ""},
		{"+ prefix → unknown field", "+name", "", `unknown field "+name"`},
		{"+ decoded as a space → unknown field", " name", "", `unknown field " name"`},
		{"space after a comma → unknown field", "grp, name", "", `unknown field " name"`},
		{"trailing space → unknown field", "name ", "", `unknown field "name "`},
		{"trailing comma → empty field", "name,", "", "empty field"},
		{"leading comma → empty field", ",name", "", "empty field"},
		{"- alone → empty field", "-", "", "empty field"},
		{"double - → unknown field", "--name", "", `unknown field "-name"`},
		{"repeated field → repeats", "name,name", "", `repeats field "name"`},
		{"repeated field, other direction → repeats", "name,-name", "", `repeats field "name"`},
		{"five fields with MaxSortFields 4 → names the limit", "grp,name,day,score,at", "", "at most 4 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := p.ParseRequest(url.Values{"sort": {tt.sort}})
			if tt.want != "" {
				if err != nil || req.Sort().String() != tt.want {
					t.Fatalf("got %v, %v; want %s", req, err, tt.want)
				}
				return
			}
			var re *pagination.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("got %v, want a *RequestError", err)
			}
			if len(re.Problem.Errors) == 0 || re.Problem.Errors[0].Field != "sort" {
				t.Fatalf("field errors %v, want one on sort", re.Problem.Errors)
			}
			if msg := re.Problem.Errors[0].Message; !strings.Contains(msg, tt.wantText) {
				t.Fatalf("message %q does not say %q", msg, tt.wantText)
			}
		})
	}
	t.Run("the query string + arrives as a space → 400", func(t *testing.T) {
		q, _ := url.ParseQuery("sort=+name")
		if _, err := p.ParseRequest(q); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("MaxSortFields 0 → as many fields as sortable columns", func(t *testing.T) {
		p := newItemPaginator(t)
		if _, err := p.NewRequest("grp,name,day,score,at,id", 0, ""); err != nil {
			t.Fatalf("six fields: %v", err)
		}
		_, err := p.NewRequest("grp,name,day,score,at,id,x", 0, "")
		var re *pagination.RequestError
		if !errors.As(err, &re) || !strings.Contains(re.Problem.Errors[0].Message, "at most 6 fields") {
			t.Fatalf("seven fields: %v", err)
		}
	})
	t.Run("a Default longer than MaxSortFields → New fails", func(t *testing.T) {
		spec := itemSpec()
		spec.MaxSortFields, spec.Default = 2, "grp,name,at"
		if _, err := pagination.New(mustCodec(t, [][]byte{key1}), spec); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestParseRequestRejectsInvalidCursorsWithOpaque400(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)}
	p := newItemPaginator(t, pagination.WithClock(clk.now))
	foreignKey := newItemPaginator(t, pagination.WithClock(clk.now))
	foreignCodec := mustCodec(t, [][]byte{key2}, pagination.WithClock(clk.now))
	foreign := pagination.MustNew(foreignCodec, itemSpec())

	row := &item{ID: 42, Name: "alpha", At: clk.t}
	cursorFor := func(p *pagination.Paginator[item], sort string, filters ...string) string {
		req, err := p.NewRequest(sort, 0, "", filters...)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := p.CursorAfter(req, row)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := cursorFor(p, "name", "statut=ouvert")
	expired := cursorFor(p, "name", "statut=ouvert")
	otherResource := pagination.MustNew(mustCodec(t, [][]byte{key1}, pagination.WithClock(clk.now)),
		func() pagination.Spec[item] { s := itemSpec(); s.Resource = "pointages"; return s }())

	if _, err := foreignKey.NewRequest("name", 0, valid, "statut=ouvert"); err != nil {
		t.Fatalf("a paginator with the same key rejects the cursor: %v", err)
	}
	clk.t = clk.t.Add(25 * time.Hour)
	valid = cursorFor(p, "name", "statut=ouvert")
	raw := []byte(valid)
	raw[len(raw)/2] ^= 0x01

	tests := []struct {
		name    string
		query   url.Values
		filters []string
		want    pagination.CursorErrorReason
	}{
		{"garbage", url.Values{"cursor": {"eyJpZCI6MTIzfQ=="}, "sort": {"name"}}, []string{"statut=ouvert"}, pagination.ReasonMalformed},
		{"truncated", url.Values{"cursor": {valid[:len(valid)-3]}, "sort": {"name"}}, []string{"statut=ouvert"}, ""},
		{"bit-flipped", url.Values{"cursor": {string(raw)}, "sort": {"name"}}, []string{"statut=ouvert"}, ""},
		{"expired", url.Values{"cursor": {expired}, "sort": {"name"}}, []string{"statut=ouvert"}, pagination.ReasonExpired},
		{"sealed with a foreign key", url.Values{"cursor": {cursorFor(foreign, "name", "statut=ouvert")}, "sort": {"name"}}, []string{"statut=ouvert"}, pagination.ReasonUnauthenticated},
		{"other filters", url.Values{"cursor": {valid}, "sort": {"name"}}, []string{"statut=clos"}, pagination.ReasonOtherQuery},
		{"no filters", url.Values{"cursor": {valid}, "sort": {"name"}}, nil, pagination.ReasonOtherQuery},
		{"other sort", url.Values{"cursor": {valid}, "sort": {"-name"}}, []string{"statut=ouvert"}, pagination.ReasonOtherQuery},
		{"sort omitted", url.Values{"cursor": {valid}}, []string{"statut=ouvert"}, pagination.ReasonOtherQuery},
		{"other resource", url.Values{"cursor": {cursorFor(otherResource, "name", "statut=ouvert")}, "sort": {"name"}}, []string{"statut=ouvert"}, pagination.ReasonOtherQuery},
	}
	var details []string
	for _, tt := range tests {
		t.Run(tt.name+" → 400 invalid-cursor", func(t *testing.T) {
			_, err := p.ParseRequest(tt.query, tt.filters...)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, pagination.ErrInvalidCursor) {
				t.Fatalf("error %v does not match ErrInvalidCursor", err)
			}
			var ce *pagination.CursorError
			if !errors.As(err, &ce) || tt.want != "" && ce.Reason != tt.want {
				t.Fatalf("reason %v, want %q", ce, tt.want)
			}
			rec, body := writeProblem(t, err)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d", rec.Code)
			}
			if body["type"] != problem.DefaultTypeBase+pagination.ProblemInvalidCursor {
				t.Fatalf("type %v", body["type"])
			}
			text := rec.Body.String()
			// The response is the same for every reason (checked below) and
			// names nothing of the cursor's construction.
			for _, leak := range []string{"base64", "nonce", "key", "decrypt", "aead", "chacha", "fingerprint", "malformed", "unauthenticated"} {
				if strings.Contains(strings.ToLower(text), leak) {
					t.Fatalf("the response reveals %q: %s", leak, text)
				}
			}
			if tok := tt.query.Get("cursor"); strings.Contains(text, tok) || strings.Contains(err.Error(), tok) {
				t.Fatal("the cursor is echoed")
			}
			details = append(details, text)
		})
	}
	t.Run("every rejected cursor gets the same response", func(t *testing.T) {
		for _, d := range details[1:] {
			if d != details[0] {
				t.Fatalf("responses differ:\n%s\n%s", details[0], d)
			}
		}
	})
	t.Run("the cursor is accepted with its own query", func(t *testing.T) {
		req, err := p.ParseRequest(url.Values{"cursor": {valid}, "sort": {"name"}, "limit": {"7"}}, "statut=ouvert")
		if err != nil || !req.HasCursor() || req.Limit() != 7 {
			t.Fatalf("got %v, %v", req, err)
		}
	})
}

func TestNewRequest(t *testing.T) {
	p := newItemPaginator(t)
	t.Run("zero limit → default", func(t *testing.T) {
		req, err := p.NewRequest("", 0, "")
		if err != nil || req.Limit() != pagination.DefaultLimit {
			t.Fatalf("got %v, %v", req, err)
		}
	})
	for _, limit := range []int{-1, 101} {
		t.Run("limit out of range → 400", func(t *testing.T) {
			if _, err := p.NewRequest("", limit, ""); err == nil {
				t.Fatalf("limit %d accepted", limit)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		query string
		want  int
		ok    bool
	}{
		{"", 20, true}, {"limit=1", 1, true}, {"limit=100", 100, true},
		{"limit=0", 0, false}, {"limit=101", 0, false}, {"limit=x", 0, false}, {"limit=", 0, false},
		{"limit=1&limit=2", 0, false},
	}
	for _, tt := range tests {
		t.Run("?"+tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got, err := pagination.ParseLimit(q)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("got %d, %v", got, err)
			}
			if err != nil {
				if rec, _ := writeProblem(t, err); rec.Code != http.StatusBadRequest {
					t.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	codec := mustCodec(t, [][]byte{key1})
	key := func(r *item) any { return r.Name }
	tests := []struct {
		name   string
		codec  *pagination.Codec
		modify func(*pagination.Spec[item])
	}{
		{"nil codec", nil, func(*pagination.Spec[item]) {}},
		{"no resource", codec, func(s *pagination.Spec[item]) { s.Resource = "" }},
		{"default sort on an unknown field", codec, func(s *pagination.Spec[item]) { s.Default = "-created" }},
		{"default sort repeats a field", codec, func(s *pagination.Spec[item]) { s.Default = "name,name" }},
		{"column without key func", codec, func(s *pagination.Spec[item]) { s.Columns["x"] = pagination.Column[item]{SQL: "i.x"} }},
		{"column without SQL", codec, func(s *pagination.Spec[item]) { s.Columns["x"] = pagination.Column[item]{Key: key} }},
		{"SQL with a placeholder", codec, func(s *pagination.Spec[item]) { s.Columns["x"] = pagination.Column[item]{SQL: "i.x + ?", Key: key} }},
		{"SQL with a positional placeholder", codec, func(s *pagination.Spec[item]) { s.Columns["x"] = pagination.Column[item]{SQL: "i.x + ?0", Key: key} }},
		{"SQL ending with ?", codec, func(s *pagination.Spec[item]) { s.Columns["x"] = pagination.Column[item]{SQL: "i.x?", Key: key} }},
		{"SQL with two statements", codec, func(s *pagination.Spec[item]) {
			s.Columns["x"] = pagination.Column[item]{SQL: "i.x; DROP TABLE t", Key: key}
		}},
		{"field name with a comma", codec, func(s *pagination.Spec[item]) { s.Columns["a,b"] = pagination.Column[item]{SQL: "i.x", Key: key} }},
		{"field name starting with -", codec, func(s *pagination.Spec[item]) { s.Columns["-x"] = pagination.Column[item]{SQL: "i.x", Key: key} }},
		{"field named like the id", codec, func(s *pagination.Spec[item]) { s.Columns["id"] = pagination.Column[item]{SQL: "i.x", Key: key} }},
		{"nullable id", codec, func(s *pagination.Spec[item]) { s.ID.Nullable = true }},
		{"id without key func", codec, func(s *pagination.Spec[item]) { s.ID.Key = nil }},
		{"key of an unsupported type", codec, func(s *pagination.Spec[item]) {
			s.Columns["x"] = pagination.Column[item]{SQL: "i.x", Key: func(*item) any { return struct{}{} }}
		}},
		{"max limit below default", codec, func(s *pagination.Spec[item]) { s.DefaultLimit, s.MaxLimit = 50, 10 }},
		{"negative default limit", codec, func(s *pagination.Spec[item]) { s.DefaultLimit = -1 }},
		{"negative MaxSortFields", codec, func(s *pagination.Spec[item]) { s.MaxSortFields = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name+" → error", func(t *testing.T) {
			spec := itemSpec()
			tt.modify(&spec)
			if _, err := pagination.New(tt.codec, spec); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("MustNew panics on a bad spec", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		pagination.MustNew[item](nil, itemSpec())
	})
	t.Run("custom id name and limits", func(t *testing.T) {
		spec := itemSpec()
		spec.IDName, spec.DefaultLimit, spec.MaxLimit, spec.Default = "uid", 5, 10, ""
		p, err := pagination.New(codec, spec)
		if err != nil {
			t.Fatal(err)
		}
		req, err := p.ParseRequest(url.Values{})
		if err != nil || req.Limit() != 5 || req.Sort().String() != "uid" {
			t.Fatalf("got %v %v", req, err)
		}
		if _, err := p.ParseRequest(url.Values{"limit": {"11"}}); err == nil {
			t.Fatal("limit above MaxLimit accepted")
		}
	})
}

func TestProblem(t *testing.T) {
	t.Run("cursor error from the codec → the opaque 400 problem", func(t *testing.T) {
		_, err := mustCodec(t, [][]byte{key1}).Decode("garbage", fpA)
		d, ok := pagination.Problem(err)
		if !ok || d.Status != http.StatusBadRequest || d.Type != pagination.ProblemInvalidCursor {
			t.Fatalf("got %+v, %v", d, ok)
		}
	})
	t.Run("request error → its problem", func(t *testing.T) {
		_, err := newItemPaginator(t).ParseRequest(url.Values{"limit": {"0"}})
		d, ok := pagination.Problem(err)
		if !ok || d.Status != http.StatusBadRequest || d.Errors[0].Field != "limit" {
			t.Fatalf("got %+v, %v", d, ok)
		}
	})
	t.Run("other errors → none", func(t *testing.T) {
		if d, ok := pagination.Problem(errors.New("connection refused")); ok || d != nil {
			t.Fatalf("got %+v", d)
		}
		if _, ok := pagination.Problem(nil); ok {
			t.Fatal("nil error has a problem")
		}
	})
}
