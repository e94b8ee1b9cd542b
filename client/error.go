package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Error is an error answer of the server: an RFC 9457 problem
// (application/problem+json) with the request it answered. Use errors.As
// to read it, errors.Is with ErrNotFound, ErrPreconditionFailed, ... to
// test its status:
//
//	var perr *client.Error
//	if errors.As(err, &perr) && perr.Code() == "validation-error" {
//		for _, fe := range perr.Errors { ... }
//	}
type Error struct {
	// Status is the HTTP status.
	Status int `json:"status"`
	// Type is the problem type URI; Code returns its stable last segment.
	Type string `json:"type"`
	// Title is the status text.
	Title string `json:"title"`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path the problem is about.
	Instance string `json:"instance,omitempty"`
	// Errors lists invalid input members (400, 422).
	Errors []FieldError `json:"errors,omitempty"`
	// Extensions holds the other members of the problem (required_scope,
	// precondition, violated-policies, ...), undecoded.
	Extensions map[string]json.RawMessage `json:"-"`

	// Method and Path are the request's (without its query, which may
	// hold a cursor).
	Method, Path string `json:"-"`
	// RequestID is the server's X-Request-Id, to quote to its operators.
	RequestID string `json:"-"`
	// RetryAfter is the wait the server asked for (429, 503), or zero.
	RetryAfter time.Duration `json:"-"`
}

// FieldError is one invalid input member.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Sentinels matched by an *Error of their status (errors.Is).
var (
	ErrBadRequest           = errors.New("hubchantier: bad request")
	ErrUnauthorized         = errors.New("hubchantier: unauthorized")
	ErrForbidden            = errors.New("hubchantier: forbidden")
	ErrNotFound             = errors.New("hubchantier: not found")
	ErrConflict             = errors.New("hubchantier: conflict")
	ErrPreconditionFailed   = errors.New("hubchantier: precondition failed")
	ErrValidation           = errors.New("hubchantier: unprocessable entity")
	ErrPreconditionRequired = errors.New("hubchantier: precondition required")
	ErrRateLimited          = errors.New("hubchantier: rate limited")
	ErrUnavailable          = errors.New("hubchantier: service unavailable")
)

var sentinelStatus = map[error]int{
	ErrBadRequest:           http.StatusBadRequest,
	ErrUnauthorized:         http.StatusUnauthorized,
	ErrForbidden:            http.StatusForbidden,
	ErrNotFound:             http.StatusNotFound,
	ErrConflict:             http.StatusConflict,
	ErrPreconditionFailed:   http.StatusPreconditionFailed,
	ErrValidation:           http.StatusUnprocessableEntity,
	ErrPreconditionRequired: http.StatusPreconditionRequired,
	ErrRateLimited:          http.StatusTooManyRequests,
	ErrUnavailable:          http.StatusServiceUnavailable,
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hubchantier: %s %s: %d %s", e.Method, e.Path, e.Status, e.Code())
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	for i, fe := range e.Errors {
		if i == 3 {
			fmt.Fprintf(&b, " (+%d more)", len(e.Errors)-3)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", fe.Field, fe.Message)
	}
	return b.String()
}

// Is matches the sentinel of e's status.
func (e *Error) Is(target error) bool {
	s, ok := sentinelStatus[target]
	return ok && s == e.Status
}

// Code is the stable last segment of Type ("precondition-failed",
// "validation-error", ...), or the empty string for about:blank.
func (e *Error) Code() string {
	if e.Type == "" || e.Type == "about:blank" {
		return ""
	}
	return e.Type[strings.LastIndexByte(e.Type, '/')+1:]
}

// Extension decodes the extension member name into v, and reports whether
// the problem has it.
func (e *Error) Extension(name string, v any) (bool, error) {
	raw, ok := e.Extensions[name]
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// UnmarshalJSON reads a problem: standard members into the fields, the
// others into Extensions.
func (e *Error) UnmarshalJSON(b []byte) error {
	type plain Error
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for _, k := range []string{"type", "title", "status", "detail", "instance", "errors"} {
		delete(all, k)
	}
	if len(all) > 0 {
		p.Extensions = all
	}
	*e = Error(p)
	return nil
}

// decodeError builds the *Error of an answer with status ≥ 400. A body
// that is not a problem (a proxy's HTML page) leaves the standard fields
// from the status.
func decodeError(method, path string, res *response) *Error {
	e := &Error{}
	if isJSON(res.header.Get("Content-Type")) && len(bytes.TrimSpace(res.body)) > 0 {
		if err := json.Unmarshal(res.body, e); err != nil {
			e = &Error{}
		}
	}
	if e.Status == 0 || e.Status != res.status {
		e.Status = res.status
	}
	if e.Title == "" {
		e.Title = http.StatusText(res.status)
	}
	if e.Type == "" {
		e.Type = "about:blank"
	}
	e.Method, e.Path = method, path
	e.RequestID = res.header.Get("X-Request-Id")
	if ra, ok := parseRetryAfter(res.header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = ra
	}
	return e
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
