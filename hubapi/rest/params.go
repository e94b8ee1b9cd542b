package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

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
}

func newQuery(r *http.Request, allowed ...string) *query {
	q := &query{v: r.URL.Query(), allowed: map[string]bool{}}
	for _, a := range allowed {
		q.allowed[a] = true
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
	var unknown []string
	for k := range q.v {
		if !q.allowed[k] {
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
		allowed = append(allowed, k)
	}
	sort.Strings(allowed)
	d := badRequest("invalid-query", "The query string has invalid parameters.").With("allowed_parameters", allowed)
	d.Errors = q.errs
	return d
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
