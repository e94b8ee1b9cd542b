package graphql

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/graphql/model"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// Error codes, in extensions.code of each error.
const (
	CodeBadUserInput          = "BAD_USER_INPUT"
	CodeNotFound              = "NOT_FOUND"
	CodeForbidden             = "FORBIDDEN"
	CodeUnauthenticated       = "UNAUTHENTICATED"
	CodeConflict              = "CONFLICT"
	CodePreconditionFailed    = "PRECONDITION_FAILED"
	CodeUnavailable           = "SERVICE_UNAVAILABLE"
	CodeRateLimited           = "RATE_LIMITED"
	CodeInternal              = "INTERNAL"
	CodeDepthLimit            = "DEPTH_LIMIT_EXCEEDED"
	CodeComplexityLimit       = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeAliasLimit            = "ALIAS_LIMIT_EXCEEDED"
	CodeRootFieldLimit        = "ROOT_FIELD_LIMIT_EXCEEDED"
	CodeOperationLimit        = "OPERATION_LIMIT_EXCEEDED"
	CodeNotServed             = "NOT_SERVED"
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
)

// errNotServed answers a field whose use case the server was not given.
var errNotServed = errors.New("graphql: field not served")

// argumentError is invalid client input in one argument (or one field of
// an input argument).
type argumentError struct {
	argument string
	message  string
	fields   map[string]string // input field path → message
}

func (e *argumentError) Error() string { return e.argument + ": " + e.message }

func argError(argument, message string) error {
	return &argumentError{argument: argument, message: message}
}

// inArgument attributes a use case's validation error to the argument
// whose fields it names: "input" for writes, "filter" for lists. Field
// names become the GraphQL ones (code_postal → input.codePostal).
// Pagination errors name first/last/after/before themselves.
func inArgument(err error, argument string) error {
	var ve *hubapi.ValidationError
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	ae := &argumentError{argument: argument, message: "has invalid fields", fields: map[string]string{}}
	for k, v := range ve.Fields {
		switch k {
		case "page":
			ae.argument = "after"
		}
		ae.fields[argument+"."+camel(k)] = v
	}
	return ae
}

// camel turns a snake_case member name into the GraphQL camelCase one.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if p := parts[i]; p != "" {
			if p == "id" {
				parts[i] = "Id"
			} else {
				parts[i] = strings.ToUpper(p[:1]) + p[1:]
			}
		}
	}
	return strings.Join(parts, "")
}

func isNotFound(err error) bool { return errors.Is(err, hubapi.ErrNotFound) }

// presenter turns a resolver's error into a GraphQL error that tells the
// client what it can act on and nothing internal: no SQL, no driver text,
// no stack. Unknown errors are logged (with the path) and answered with a
// fixed message.
func presenter(log *slog.Logger) gql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gerr *gqlerror.Error
		if errors.As(err, &gerr) && gerr.Extensions != nil && gerr.Extensions["code"] != nil {
			// our own errors, and gqlgen's argument coercion errors
			// (which carry the path and the code already)
			return gerr
		}
		out := &gqlerror.Error{Path: gql.GetPath(ctx)}
		var ie *model.InputError
		if errors.As(err, &ie) {
			// a scalar of the request that does not parse: gqlgen's
			// message names the argument or variable
			out.Message = ie.Msg
			if gerr != nil {
				out.Message, out.Path, out.Locations = gerr.Message, gerr.Path, gerr.Locations
			}
			out.Extensions = map[string]any{"code": CodeBadUserInput}
			return out
		}
		if gerr != nil && gerr.Err != nil {
			// a resolver's error, wrapped by gqlgen with its position
			err = gerr.Err
		}
		if err.Error() == "introspection disabled" {
			out.Message = "Introspection is disabled on this server."
			out.Extensions = map[string]any{"code": CodeIntrospectionDisabled}
			return out
		}
		code, msg, ext := classify(ctx, log, err)
		out.Message = msg
		out.Extensions = map[string]any{"code": code}
		for k, v := range ext {
			out.Extensions[k] = v
		}
		return out
	}
}

// classify maps an error to a code, a message for the client and extra
// extensions.
func classify(ctx context.Context, log *slog.Logger, err error) (string, string, map[string]any) {
	var ae *argumentError
	var ve *hubapi.ValidationError
	var pe *pagination.RequestError
	var le *ratelimit.LimitError
	var gerr *gqlerror.Error
	switch {
	case errors.As(err, &ae):
		ext := map[string]any{"argument": ae.argument}
		if len(ae.fields) > 0 {
			ext["fields"] = sortedFields(ae.fields)
			return CodeBadUserInput, "Argument " + ae.argument + " has invalid fields.", ext
		}
		return CodeBadUserInput, "Argument " + ae.argument + " " + ae.message + ".", ext
	case errors.As(err, &ve):
		return CodeBadUserInput, "The input has invalid fields.", map[string]any{"fields": sortedFields(ve.Fields)}
	case errors.As(err, &pe):
		arg := "after"
		if d, ok := pagination.Problem(err); ok && len(d.Errors) > 0 {
			switch d.Errors[0].Field {
			case "limit":
				arg = "first"
			case "sort":
				arg = "orderBy"
			}
		}
		return CodeBadUserInput, "Argument " + arg + " is invalid (a cursor must come from pageInfo of the same query).", map[string]any{"argument": arg}
	case errors.Is(err, errNotServed):
		return CodeNotServed, "This field is not served.", nil
	case errors.As(err, &le):
		return CodeRateLimited, le.Problem.Detail, nil
	case errors.Is(err, hubapi.ErrNotFound):
		return CodeNotFound, "The resource does not exist.", nil
	case errors.Is(err, hubapi.ErrUnauthenticated):
		return CodeUnauthenticated, "Authentication is required.", nil
	case errors.Is(err, hubapi.ErrForbidden):
		return CodeForbidden, err.Error(), nil
	case errors.Is(err, hubapi.ErrPrecondition):
		return CodePreconditionFailed, err.Error(), nil
	case errors.Is(err, hubapi.ErrConflict):
		return CodeConflict, err.Error(), nil
	case errors.Is(err, hubapi.ErrInvalid):
		return CodeBadUserInput, err.Error(), nil
	case errors.Is(err, hubapi.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return CodeUnavailable, "The service is temporarily unavailable; retry later.", nil
	case errors.As(err, &gerr):
		// gqlgen's input coercion ("cannot be null", an invalid scalar)
		return CodeBadUserInput, gerr.Message, nil
	}
	log.ErrorContext(ctx, "graphql field failed", slog.String("path", gql.GetPath(ctx).String()), slog.String("error", err.Error()))
	return CodeInternal, "An internal error occurred.", nil
}

// sortedFields lists field errors in name order.
func sortedFields(m map[string]string) []map[string]string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]map[string]string, len(keys))
	for i, k := range keys {
		out[i] = map[string]string{"field": k, "message": m[k]}
	}
	return out
}

// recoverer answers a panic in a resolver with an internal error; the
// panic is logged, never sent.
func recoverer(log *slog.Logger) gql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panic", slog.Any("panic", p))
		return &gqlerror.Error{Message: "An internal error occurred.", Extensions: map[string]any{"code": CodeInternal}}
	}
}
