package pagination_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

// Chantier is the row type of the examples.
type Chantier struct {
	ID        int64
	Nom       string
	DateDebut *time.Time
	CreatedAt time.Time
}

// exampleKey stands for a key loaded from configuration (ParseKeys).
var exampleKey = []byte("0123456789abcdef0123456789abcdef")

// The paginator of a resource is built once, at start-up.
var chantiers = pagination.MustNew(
	pagination.MustNewCodec([][]byte{exampleKey}),
	pagination.Spec[Chantier]{
		Resource: "chantiers",
		Columns: map[string]pagination.Column[Chantier]{
			"nom":        {SQL: "c.nom", Key: func(c *Chantier) any { return c.Nom }},
			"date_debut": {SQL: "c.date_debut", Nullable: true, Key: func(c *Chantier) any { return c.DateDebut }},
			"created_at": {SQL: "c.created_at", Key: func(c *Chantier) any { return c.CreatedAt }},
		},
		ID:            pagination.Column[Chantier]{SQL: "c.id", Key: func(c *Chantier) any { return c.ID }},
		Default:       "-created_at",
		MaxSortFields: 4,
	})

// Sort by several fields, mixing directions; the id ends every order.
func ExamplePaginator_ParseRequest() {
	req, err := chantiers.ParseRequest(url.Values{"sort": {"-date_debut,nom"}, "limit": {"50"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(req.Sort(), req.Limit(), req.HasCursor())

	_, err = chantiers.ParseRequest(url.Values{"sort": {"budget"}})
	d, _ := problem.As(err)
	fmt.Println(d.Status, d.Errors[0].Field, d.Errors[0].Message, d.Extensions["allowed"])
	// Output:
	// -date_debut,nom,id 50 false
	// 400 sort unknown field "budget" [created_at date_debut id nom]
}

// An adapter that reports errors its own way (GraphQL, a CLI) reads the
// field errors of the RequestError and the allowed sort fields.
func ExampleRequestError() {
	_, err := chantiers.NewRequest("nom,nom", 0, "")
	var re *pagination.RequestError
	if errors.As(err, &re) {
		for _, f := range re.Problem.Errors {
			fmt.Printf("%s %s; allowed: %v\n", f.Field, f.Message, chantiers.Allowed())
		}
	}
	// Output:
	// sort repeats field "nom"; allowed: [created_at date_debut id nom]
}

// The plan of a page is plain SQL text with "?" placeholders, for the code
// that runs the query (package bunkeyset does it on bun).
func ExamplePaginator_Plan() {
	first, _ := chantiers.NewRequest("-date_debut,nom", 50, "")
	boundary := &Chantier{ID: 42, Nom: "Halle", DateDebut: ptr(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))}
	next, _ := chantiers.CursorAfter(first, boundary)
	req, _ := chantiers.NewRequest("-date_debut,nom", 50, next)

	plan, err := chantiers.Plan(req)
	if err != nil {
		panic(err)
	}
	fmt.Println("WHERE", plan.Where.SQL)
	fmt.Println(len(plan.Where.Args), "args,", len(plan.Ranges), "range")
	fmt.Println("ORDER BY", strings.Join(plan.OrderBy, ", "))
	fmt.Println("LIMIT", plan.Limit)
	// Output:
	// WHERE c.date_debut <= ? AND (c.date_debut <> ? OR (c.nom, c.id) > (?, ?))
	// 4 args, 1 range
	// ORDER BY c.date_debut DESC NULLS FIRST, c.nom ASC, c.id ASC
	// LIMIT 51
}

func ptr[T any](v T) *T { return &v }

// The codec alone: seal a position for a query, open it again.
func ExampleCodec() {
	codec, err := pagination.NewCodec([][]byte{exampleKey}, pagination.WithTTL(time.Hour))
	if err != nil {
		panic(err)
	}
	query := pagination.NewFingerprint("chantiers", "statut=ouvert", "-created_at,id")
	token, _ := codec.Encode(pagination.Cursor{Values: []any{time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC), int64(123)}}, query)

	cur, err := codec.Decode(token, query)
	fmt.Println(cur.Values, cur.Backward, err)

	other := pagination.NewFingerprint("chantiers", "statut=clos", "-created_at,id")
	_, err = codec.Decode(token, other)
	fmt.Println(err)
	// Output:
	// [2026-01-15 10:00:00 +0000 UTC 123] false <nil>
	// pagination: invalid cursor (other-query)
}

func ExampleLinkHeader() {
	u, _ := url.Parse("/api/v1/chantiers?statut=ouvert&limit=50&cursor=old")
	fmt.Println(pagination.LinkHeader(u, pagination.Info{NextCursor: "NEXT", PrevCursor: "PREV", HasMore: true}))
	// Output:
	// </api/v1/chantiers?cursor=NEXT&limit=50&statut=ouvert>; rel="next", </api/v1/chantiers?cursor=PREV&limit=50&statut=ouvert>; rel="prev"
}

// ParseKeys reads the rotation list from configuration (e.g. an environment
// variable), newest key first.
func ExampleParseKeys() {
	keys, err := pagination.ParseKeys("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=, MTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjA=")
	if err != nil {
		panic(err)
	}
	fmt.Println(len(keys), len(keys[0]))
	// Output:
	// 2 32
}
