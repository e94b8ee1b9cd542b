package rest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

// retryAfterUnavailable is the Retry-After (seconds) of a 503 for an
// unavailable database: outages that last are not fixed by retrying
// sooner, and a short blip is over by then.
const retryAfterUnavailable = "2"

// writeError maps a service or decoding error to an RFC 9457 response.
// Unknown errors become a 500 without detail; the cause is logged.
// An unavailable database (hubapi.ErrUnavailable) is a 503 with
// Retry-After, as is a context deadline while the client is still there:
// requests carry no deadline of their own, so it is the store's statement
// timeout (the wait for a pooled connection included). Neither shows the
// client any SQL or driver text.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if d, ok := problem.As(err); ok {
		if isV2(r) {
			d = renameFieldErrors(d)
		}
		problem.Write(w, r, d)
		return
	}
	var ve *hubapi.ValidationError
	switch {
	case errors.As(err, &ve):
		detail := "The request body has invalid fields."
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			detail = "The query has invalid parameter values."
		}
		d := problem.New(http.StatusUnprocessableEntity, "validation-error", detail)
		keys := make([]string, 0, len(ve.Fields))
		for k := range ve.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.Errors = append(d.Errors, problem.FieldError{Field: k, Message: ve.Fields[k]})
		}
		if isV2(r) {
			d = renameFieldErrors(d)
		}
		problem.Write(w, r, d)
	case errors.Is(err, hubapi.ErrNotFound):
		problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "The resource does not exist."))
	case errors.Is(err, hubapi.ErrUnauthenticated):
		unauthorized(w, r, "")
	case errors.Is(err, hubapi.ErrForbidden):
		problem.Write(w, r, problem.New(http.StatusForbidden, "forbidden", err.Error()))
	case errors.Is(err, hubapi.ErrPrecondition):
		problem.Write(w, r, problem.New(http.StatusPreconditionFailed, "precondition-failed", err.Error()))
	case errors.Is(err, hubapi.ErrConflict):
		problem.Write(w, r, problem.New(http.StatusConflict, "conflict", err.Error()))
	case errors.Is(err, hubapi.ErrTooLarge):
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, "body-too-large", err.Error()))
	case errors.Is(err, hubapi.ErrInvalid):
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "validation-error", err.Error()))
	case errors.Is(err, hubapi.ErrKeys):
		a.log.ErrorContext(r.Context(), "sealed data does not open", slog.String("error", err.Error()))
		w.Header().Set("Retry-After", retryAfterUnavailable)
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "key-unavailable", err.Error()))
	case errors.Is(err, hubapi.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		a.log.WarnContext(r.Context(), "database unavailable", slog.String("error", err.Error()))
		w.Header().Set("Retry-After", retryAfterUnavailable)
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "service-unavailable",
			"The service is temporarily unavailable; retry after the delay in Retry-After."))
	case errors.Is(err, context.Canceled):
		// client went away; nothing useful to send
		w.WriteHeader(499)
	default:
		a.log.ErrorContext(r.Context(), "request failed", slog.String("error", err.Error()))
		problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", "An internal error occurred."))
	}
}

func badRequest(code, detail string) *problem.Details {
	return problem.New(http.StatusBadRequest, code, detail)
}

func unauthorized(w http.ResponseWriter, r *http.Request, errCode string) {
	v := `Bearer realm="hubchantier"`
	if errCode != "" {
		v += `, error="` + errCode + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	problem.Write(w, r, problem.New(http.StatusUnauthorized, "unauthorized", "A valid API key is required: Authorization: Bearer <key>."))
}
