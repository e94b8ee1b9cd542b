package graphql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/99designs/gqlgen/complexity"
	gql "github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/hubchantier/hubchantier/hubapi/graphql/generated"
	"github.com/hubchantier/hubchantier/hubapi/graphql/model"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// Limits bound what one GraphQL request may ask. All are checked after
// parsing and validation and before any resolver runs: a request over a
// limit runs nothing and costs one unit.
type Limits struct {
	// MaxDepth is the deepest field nesting; a root field is at depth 1
	// (default 5, the product specification's).
	MaxDepth int
	// MaxComplexity bounds the complexity: 1 per field, and for a
	// connection its page size (first or last, 20 by default) times the
	// complexity of one node (default 5,000).
	MaxComplexity int
	// MaxAliases bounds the aliased fields of an operation (default 30).
	MaxAliases int
	// MaxTokens bounds the tokens of a document, checked by the parser
	// (default 5,000).
	MaxTokens int
	// MaxRootFields bounds the fields of an operation's top level
	// (default 10).
	MaxRootFields int
	// MaxOperations bounds the operations of a document (default 5).
	MaxOperations int
	// PointsPerUnit is the complexity that costs one rate limit unit
	// (default 1,000: a page of 50 chantiers with their responsable is 2
	// units, like REST's fields=* page).
	PointsPerUnit int
}

// Default limits.
const (
	DefaultMaxDepth      = 5
	DefaultMaxComplexity = 5000
	DefaultMaxAliases    = 30
	DefaultMaxTokens     = 5000
	DefaultMaxRootFields = 10
	DefaultMaxOperations = 5
	DefaultPointsPerUnit = 1000
)

// maxWalk bounds the selections the guard visits: fragments spread many
// times can make a small document large once expanded.
const maxWalk = 20000

func (l Limits) withDefaults() (Limits, error) {
	def := func(v *int, d int, name string) error {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			return fmt.Errorf("graphql: Limits.%s must be positive", name)
		}
		return nil
	}
	return l, errors.Join(
		def(&l.MaxDepth, DefaultMaxDepth, "MaxDepth"),
		def(&l.MaxComplexity, DefaultMaxComplexity, "MaxComplexity"),
		def(&l.MaxAliases, DefaultMaxAliases, "MaxAliases"),
		def(&l.MaxTokens, DefaultMaxTokens, "MaxTokens"),
		def(&l.MaxRootFields, DefaultMaxRootFields, "MaxRootFields"),
		def(&l.MaxOperations, DefaultMaxOperations, "MaxOperations"),
		def(&l.PointsPerUnit, DefaultPointsPerUnit, "PointsPerUnit"),
	)
}

// requestState is what the guard and the resolvers of one request share.
type requestState struct {
	header http.Header // the response's: the rate limiter's fields
	status int         // a request error's status, set by the guard
	get    bool        // the request is a GET

	points, units int64
	// items asked for and returned by the connections of the request
	asked, returned atomic.Int64
}

// recordPage notes a connection's page size and what it returned, for the
// actual cost.
func recordPage(ctx context.Context, asked, returned int) {
	if st := stateFrom(ctx); st != nil {
		st.asked.Add(int64(asked))
		st.returned.Add(int64(returned))
	}
}

// guard enforces Limits, charges the cost to the rate limiter and reports
// it in extensions.cost.
type guard struct {
	limits Limits
	es     gql.ExecutableSchema
}

var _ interface {
	gql.HandlerExtension
	gql.OperationContextMutator
	gql.ResponseInterceptor
} = (*guard)(nil)

func (g *guard) ExtensionName() string               { return "HubLimits" }
func (g *guard) Validate(gql.ExecutableSchema) error { return nil }

// limitError is a request error: nothing runs.
func (g *guard) limitError(ctx context.Context, status int, code, msg string) *gqlerror.Error {
	if st := stateFrom(ctx); st != nil {
		st.status = status
	}
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// MutateOperationContext runs after parsing and validation, before the
// root resolvers.
func (g *guard) MutateOperationContext(ctx context.Context, oc *gql.OperationContext) *gqlerror.Error {
	l := g.limits
	if n := len(oc.Doc.Operations); n > l.MaxOperations {
		return g.limitError(ctx, http.StatusBadRequest, CodeOperationLimit,
			fmt.Sprintf("The document has %d operations; at most %d are allowed.", n, l.MaxOperations))
	}
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil {
		return nil // gqlgen reports the missing operation
	}
	w := walker{max: l.MaxDepth}
	w.walk(op.SelectionSet, 1)
	switch {
	case w.visited > maxWalk:
		return g.limitError(ctx, http.StatusBadRequest, CodeComplexityLimit,
			"The operation is too large once its fragments are expanded.")
	case w.depth > l.MaxDepth:
		return g.limitError(ctx, http.StatusBadRequest, CodeDepthLimit,
			fmt.Sprintf("The operation nests fields %d deep; at most %d levels are allowed.", w.depth, l.MaxDepth))
	case w.aliases > l.MaxAliases:
		return g.limitError(ctx, http.StatusBadRequest, CodeAliasLimit,
			fmt.Sprintf("The operation has %d aliases; at most %d are allowed.", w.aliases, l.MaxAliases))
	}
	if roots := w.rootFields(op.SelectionSet); roots > l.MaxRootFields {
		return g.limitError(ctx, http.StatusBadRequest, CodeRootFieldLimit,
			fmt.Sprintf("The operation has %d root fields; at most %d are allowed.", roots, l.MaxRootFields))
	}
	points := complexity.Calculate(ctx, g.es, op, oc.Variables)
	if points > l.MaxComplexity {
		return g.limitError(ctx, http.StatusBadRequest, CodeComplexityLimit,
			fmt.Sprintf("The operation has complexity %d; at most %d is allowed (lower first or last, or select fewer fields).", points, l.MaxComplexity))
	}
	units := max(1, (int64(points)+int64(l.PointsPerUnit)-1)/int64(l.PointsPerUnit))
	st := stateFrom(ctx)
	if st != nil {
		st.points, st.units = int64(points), units
	}
	if err := ratelimit.SetCost(ctx, units); err != nil {
		var le *ratelimit.LimitError
		status := http.StatusTooManyRequests
		if errors.As(err, &le) && le.Problem != nil && le.Problem.Status != 0 {
			status = le.Problem.Status
		}
		code := CodeRateLimited
		if status == http.StatusServiceUnavailable {
			code = CodeUnavailable
		}
		msg := "The rate limit is exhausted; retry after the delay in Retry-After."
		if le != nil && le.Problem != nil && le.Problem.Detail != "" {
			msg = le.Problem.Detail
		}
		return g.limitError(ctx, status, code, msg)
	}
	return nil
}

// InterceptResponse adds extensions.cost to the response of an operation
// that ran.
func (g *guard) InterceptResponse(ctx context.Context, next gql.ResponseHandler) *gql.Response {
	resp := next(ctx)
	st := stateFrom(ctx)
	if resp == nil || st == nil || st.units == 0 {
		return resp
	}
	actual := st.points
	if asked := st.asked.Load(); asked > 0 {
		// each page counted at the size it returned
		actual = max(1, st.points*st.returned.Load()/asked)
	}
	per := int64(g.limits.PointsPerUnit)
	cost := map[string]any{
		"requested":  st.units,
		"actual":     max(1, (actual+per-1)/per),
		"complexity": st.points,
	}
	if st.header != nil {
		if rem, err := strconv.ParseInt(st.header.Get("X-Ratelimit-Remaining"), 10, 64); err == nil {
			cost["remaining"] = rem
		}
	}
	if resp.Extensions == nil {
		resp.Extensions = map[string]any{}
	}
	resp.Extensions["cost"] = cost
	return resp
}

// walker measures an operation: depth, aliases, selections visited.
type walker struct {
	max                     int
	depth, aliases, visited int
}

// rootFields counts the top-level fields, through fragments.
func (w *walker) rootFields(set ast.SelectionSet) int {
	n := 0
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			n++
		case *ast.InlineFragment:
			n += w.rootFields(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				n += w.rootFields(s.Definition.SelectionSet)
			}
		}
	}
	return n
}

// walk visits set at depth d. Introspection (__schema, __type) is not
// measured: its own shape is fixed and deep, and it is off in production.
func (w *walker) walk(set ast.SelectionSet, d int) {
	for _, s := range set {
		w.visited++
		if w.visited > maxWalk || w.depth > w.max+1 {
			return
		}
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				continue
			}
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			w.depth = max(w.depth, d)
			w.walk(s.SelectionSet, d+1)
		case *ast.InlineFragment:
			w.walk(s.SelectionSet, d)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				w.walk(s.Definition.SelectionSet, d)
			}
		}
	}
}

// setComplexity prices connections at their page size times one node.
func setComplexity(c *generated.ComplexityRoot) {
	conn := func(child int, first, last *int) int { return 1 + pageSize(first, last)*child }
	c.Query.Chantiers = func(child int, first *int, _ *string, last *int, _ *string, _ *model.ChantierFilter, _ []*model.ChantierOrder) int {
		return conn(child, first, last)
	}
	c.Query.Pointages = func(child int, first *int, _ *string, last *int, _ *string, _ *model.PointageFilter) int {
		return conn(child, first, last)
	}
	c.Query.Documents = func(child int, first *int, _ *string, last *int, _ *string, _ *model.DocumentFilter) int {
		return conn(child, first, last)
	}
	c.Query.Signalements = func(child int, first *int, _ *string, last *int, _ *string, _ *model.SignalementFilter) int {
		return conn(child, first, last)
	}
	c.Query.Affectations = func(child int, first *int, _ *string, last *int, _ *string, _ *model.AffectationFilter) int {
		return conn(child, first, last)
	}
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
