package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

// maxPage bounds the legacy offset page number.
const maxPage = 1_000_000

// query reads query parameters strictly: each parameter may appear once,
// only known names are accepted, and every parse error is a 400 problem
// naming the parameter.
type query struct {
	v       url.Values
	allowed map[string]bool
	errs    []problem.FieldError
	// v2: the query of a v2 request, whose parameters are read under
	// their v1 names; unknown holds the names that have no v1 counterpart
	// (v1 names included), reported as sent.
	v2      bool
	unknown []string
}

func newQuery(r *http.Request, allowed ...string) *query {
	q := &query{v: r.URL.Query(), allowed: map[string]bool{}, v2: isV2(r)}
	for _, a := range allowed {
		// v2 pages by cursor only
		if q.v2 && a == "page" {
			continue
		}
		q.allowed[a] = true
	}
	if q.v2 {
		v := make(url.Values, len(q.v))
		for k, vs := range q.v {
			name, ok := v1Names[k]
			switch {
			case ok:
			case v2Name(k) == k: // the same name in both versions
				name = k
			default: // a v1 name
				q.unknown = append(q.unknown, k)
				continue
			}
			if name == "sort" {
				vs = append([]string(nil), vs...)
				for i := range vs {
					vs[i] = v1SortExpression(vs[i])
				}
			}
			v[name] = vs
		}
		q.v = v
	}
	return q
}

func (q *query) fail(name, msg string) {
	q.errs = append(q.errs, problem.FieldError{Field: name, Message: msg})
}

func (q *query) get(name string) string {
	vs := q.v[name]
	if len(vs) > 1 {
		q.fail(name, "must appear at most once")
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func (q *query) int64(name string, positive bool) int64 {
	s := q.get(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (positive && n <= 0) {
		q.fail(name, "must be a positive integer")
		return 0
	}
	return n
}

func (q *query) intRange(name string, def, min, max int) int {
	s := q.get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		q.fail(name, fmt.Sprintf("must be an integer between %d and %d", min, max))
		return def
	}
	return n
}

func (q *query) date(name string) hubapi.Date {
	s := q.get(name)
	if s == "" {
		return hubapi.Date{}
	}
	d, err := hubapi.ParseDate(s)
	if err != nil {
		q.fail(name, "must be a date YYYY-MM-DD")
	}
	return d
}

func enumParam[T ~string](q *query, name string, values []T) T {
	s := q.get(name)
	if s == "" {
		return ""
	}
	for _, v := range values {
		if string(v) == s {
			return v
		}
	}
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	q.fail(name, "must be one of "+strings.Join(names, ", "))
	return ""
}

// page parses the legacy ?page=&limit=.
func (q *query) page() (page, limit int) {
	return q.intRange("page", 1, 1, maxPage), q.intRange("limit", pagination.DefaultLimit, 1, pagination.MaxLimit)
}

// err reports unknown parameters and parse errors as one 400 problem.
func (q *query) err() error {
	unknown := q.unknown
	for k := range q.v {
		if !q.allowed[k] {
			if q.v2 {
				k = v2Name(k)
			}
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		q.fail(sanitize(k), "unknown query parameter")
	}
	if len(q.errs) == 0 {
		return nil
	}
	allowed := make([]string, 0, len(q.allowed))
	for k := range q.allowed {
		if q.v2 {
			k = v2Name(k)
		}
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	ext := "allowed_parameters"
	if q.v2 {
		ext = v2Name(ext)
	}
	d := badRequest("invalid-query", "The query string has invalid parameters.").With(ext, allowed)
	d.Errors = q.errs
	return d
}

// checkQuery answers 400 invalid-query, before any handler or middleware
// reads the query, when the query string cannot be read exactly as sent:
// url.ParseQuery fails (a ';' separator, a malformed %-escape), which
// r.URL.Query() hides by dropping the pair; or a name or value is not
// valid UTF-8 or holds NUL, which no parameter accepts.
func checkQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			next.ServeHTTP(w, r)
			return
		}
		vals, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			detail := "The query string is malformed: " + sanitize(strings.TrimPrefix(err.Error(), "invalid ")) + "."
			if strings.Contains(err.Error(), "semicolon") {
				detail = "The query string contains ';', which is not a parameter separator: separate parameters with '&' and encode ';' in a value as %3B."
			}
			problem.Write(w, r, badRequest("invalid-query", detail))
			return
		}
		var errs []problem.FieldError
		names := make([]string, 0, len(vals))
		for k := range vals {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if msg := rawTextProblem(k); msg != "" {
				errs = append(errs, problem.FieldError{Field: sanitize(strings.ReplaceAll(k, "\x00", `\u0000`)), Message: "parameter name " + msg})
				continue
			}
			for _, v := range vals[k] {
				if msg := rawTextProblem(v); msg != "" {
					errs = append(errs, problem.FieldError{Field: k, Message: msg})
					break
				}
			}
		}
		if len(errs) > 0 {
			d := badRequest("invalid-query", "The query string has invalid parameters.")
			d.Errors = errs
			problem.Write(w, r, d)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func rawTextProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL (U+0000)"
	}
	return ""
}

// pathID parses the {id} route variable.
func pathID(r *http.Request) (int64, error) {
	s := mux.Vars(r)["id"]
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, problem.New(http.StatusBadRequest, "invalid-id", "The id in the path must be a positive integer.")
	}
	return id, nil
}
