package graphql

import (
	"context"
	"strings"

	gql "github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/hubchantier/hubchantier/audit"
)

// maxAuditedOperation bounds the operation's description in its audit
// event (a name or the list of root fields).
const maxAuditedOperation = 200

// auditOperation names the operation a GraphQL request executes in the
// request's audit event: action graphql_query or graphql_mutation,
// resource type "graphql", resource id the operation's name or, for an
// anonymous one, its root fields ("chantiers,me"). It runs before the
// limits, so a refused operation is described too. A mutation's use cases
// add their change events (create_chantier, ...) beside it.
type auditOperation struct{}

var _ interface {
	gql.HandlerExtension
	gql.OperationContextMutator
} = auditOperation{}

func (auditOperation) ExtensionName() string               { return "HubAuditOperation" }
func (auditOperation) Validate(gql.ExecutableSchema) error { return nil }

func (auditOperation) MutateOperationContext(ctx context.Context, oc *gql.OperationContext) *gqlerror.Error {
	if oc == nil || oc.Doc == nil {
		return nil
	}
	op := oc.Doc.Operations.ForName(oc.OperationName)
	if op == nil {
		return nil
	}
	audit.Describe(ctx, "graphql_"+string(op.Operation), "graphql", describeOperation(op))
	return nil
}

// describeOperation is op's name, or its root fields' names (aliases
// left out: they are the client's words) joined by commas.
func describeOperation(op *ast.OperationDefinition) string {
	if op.Name != "" {
		return truncate(op.Name, maxAuditedOperation)
	}
	var b strings.Builder
	for _, sel := range op.SelectionSet {
		var name string
		switch s := sel.(type) {
		case *ast.Field:
			name = s.Name
		case *ast.FragmentSpread:
			name = "..." + s.Name
		case *ast.InlineFragment:
			name = "...on " + s.TypeCondition
		}
		if name == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		if b.Len() >= maxAuditedOperation {
			break
		}
	}
	return truncate(b.String(), maxAuditedOperation)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut on a rune boundary
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
