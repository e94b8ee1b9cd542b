package graphql

import (
	"context"
	"sort"
	"strings"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/graphql/generated"
	"github.com/hubchantier/hubchantier/hubapi/graphql/model"
)

// resolver is the root of the resolvers: every field calls a use case of
// Options, with the caller's principal in the context.
type resolver struct{ o *Options }

func (r *resolver) Affectation() generated.AffectationResolver { return &affectationResolver{r} }
func (r *resolver) AffectationConnection() generated.AffectationConnectionResolver {
	return &affectationConnResolver{}
}
func (r *resolver) ChantierConnection() generated.ChantierConnectionResolver {
	return &chantierConnResolver{}
}
func (r *resolver) Document() generated.DocumentResolver { return &documentResolver{r} }
func (r *resolver) DocumentConnection() generated.DocumentConnectionResolver {
	return &documentConnResolver{}
}
func (r *resolver) Me() generated.MeResolver             { return meResolver{} }
func (r *resolver) Mutation() generated.MutationResolver { return &mutationResolver{r} }
func (r *resolver) Pointage() generated.PointageResolver { return &pointageResolver{r} }
func (r *resolver) PointageConnection() generated.PointageConnectionResolver {
	return &pointageConnResolver{}
}
func (r *resolver) Query() generated.QueryResolver             { return &queryResolver{r} }
func (r *resolver) Signalement() generated.SignalementResolver { return &signalementResolver{r} }
func (r *resolver) SignalementConnection() generated.SignalementConnectionResolver {
	return &signalementConnResolver{}
}
func (r *resolver) Stats() generated.StatsResolver { return statsResolver{} }

// ---- queries

type queryResolver struct{ *resolver }

func (r *queryResolver) Chantiers(ctx context.Context, first *int, after *string, last *int, before *string, filter *model.ChantierFilter, orderBy []*model.ChantierOrder) (*model.ChantierConnection, error) {
	if r.o.Chantiers == nil {
		return nil, errNotServed
	}
	sort, err := chantierSort(orderBy)
	if err != nil {
		return nil, err
	}
	pr, err := pageRequest(ctx, first, after, last, before, sort)
	if err != nil {
		return nil, err
	}
	var f hubapi.ChantierFilter
	if filter != nil {
		f.Statut = deref(filter.Statut)
		f.Ville = deref(filter.Ville)
		f.ResponsableID = deref(filter.ResponsableID)
	}
	pg, err := r.o.Chantiers.ListChantiers(ctx, f, pr, nodeSelection(ctx, chantierFields))
	if err != nil {
		return nil, inArgument(err, "filter")
	}
	recordPage(ctx, pr.Limit, len(pg.Items))
	if err := fillResponsables(ctx, pg.Items); err != nil {
		return nil, err
	}
	return &model.ChantierConnection{Nodes: model.Pointers(pg.Items), PageInfo: model.NewPageInfo(pg)}, nil
}

func (r *queryResolver) Chantier(ctx context.Context, id int64) (*hubapi.Chantier, error) {
	if r.o.Chantiers == nil {
		return nil, errNotServed
	}
	var sel *fields.Selection
	if selectsField(ctx, "responsable") {
		// the use case reads the responsable along
		sel = responsableSelection
	}
	return nullIfNotFound(r.o.Chantiers.GetChantier(ctx, id, sel))
}

func (r *queryResolver) Pointages(ctx context.Context, first *int, after *string, last *int, before *string, filter *model.PointageFilter) (*model.PointageConnection, error) {
	if r.o.Pointages == nil {
		return nil, errNotServed
	}
	pr, err := pageRequest(ctx, first, after, last, before, "")
	if err != nil {
		return nil, err
	}
	var f hubapi.PointageFilter
	if filter != nil {
		f.ChantierID, f.UserID, f.Statut = deref(filter.ChantierID), deref(filter.UserID), deref(filter.Statut)
		f.From, f.To = deref(filter.From), deref(filter.To)
	}
	pg, err := r.o.Pointages.ListPointages(ctx, f, pr, nodeSelection(ctx, pointageFields))
	if err != nil {
		return nil, inArgument(err, "filter")
	}
	recordPage(ctx, pr.Limit, len(pg.Items))
	c := &model.PointageConnection{Nodes: model.Pointers(pg.Items), PageInfo: model.NewPageInfo(pg)}
	prefetchChantiers(ctx, c.Nodes, func(p *hubapi.Pointage) int64 { return p.ChantierID })
	return c, nil
}

func (r *queryResolver) Pointage(ctx context.Context, id int64) (*hubapi.Pointage, error) {
	if r.o.Pointages == nil {
		return nil, errNotServed
	}
	return nullIfNotFound(r.o.Pointages.GetPointage(ctx, id))
}

func (r *queryResolver) Documents(ctx context.Context, first *int, after *string, last *int, before *string, filter *model.DocumentFilter) (*model.DocumentConnection, error) {
	if r.o.Documents == nil {
		return nil, errNotServed
	}
	pr, err := pageRequest(ctx, first, after, last, before, "")
	if err != nil {
		return nil, err
	}
	var f hubapi.DocumentFilter
	if filter != nil {
		f.ChantierID, f.Categorie = deref(filter.ChantierID), deref(filter.Categorie)
	}
	pg, err := r.o.Documents.ListDocuments(ctx, f, pr, nodeSelection(ctx, documentFields))
	if err != nil {
		return nil, inArgument(err, "filter")
	}
	recordPage(ctx, pr.Limit, len(pg.Items))
	c := &model.DocumentConnection{Nodes: model.Pointers(pg.Items), PageInfo: model.NewPageInfo(pg)}
	prefetchChantiers(ctx, c.Nodes, func(d *hubapi.Document) int64 { return d.ChantierID })
	return c, nil
}

func (r *queryResolver) Document(ctx context.Context, id int64) (*hubapi.Document, error) {
	if r.o.Documents == nil {
		return nil, errNotServed
	}
	return nullIfNotFound(r.o.Documents.GetDocument(ctx, id))
}

func (r *queryResolver) Signalements(ctx context.Context, first *int, after *string, last *int, before *string, filter *model.SignalementFilter) (*model.SignalementConnection, error) {
	if r.o.Signalements == nil {
		return nil, errNotServed
	}
	pr, err := pageRequest(ctx, first, after, last, before, "")
	if err != nil {
		return nil, err
	}
	var f hubapi.SignalementFilter
	if filter != nil {
		f.ChantierID, f.Statut, f.Gravite = deref(filter.ChantierID), deref(filter.Statut), deref(filter.Gravite)
	}
	pg, err := r.o.Signalements.ListSignalements(ctx, f, pr, nodeSelection(ctx, signalementFields))
	if err != nil {
		return nil, inArgument(err, "filter")
	}
	recordPage(ctx, pr.Limit, len(pg.Items))
	c := &model.SignalementConnection{Nodes: model.Pointers(pg.Items), PageInfo: model.NewPageInfo(pg)}
	prefetchChantiers(ctx, c.Nodes, func(s *hubapi.Signalement) int64 { return s.ChantierID })
	return c, nil
}

func (r *queryResolver) Signalement(ctx context.Context, id int64) (*hubapi.Signalement, error) {
	if r.o.Signalements == nil {
		return nil, errNotServed
	}
	return nullIfNotFound(r.o.Signalements.GetSignalement(ctx, id))
}

func (r *queryResolver) Affectations(ctx context.Context, first *int, after *string, last *int, before *string, filter *model.AffectationFilter) (*model.AffectationConnection, error) {
	if r.o.Affectations == nil {
		return nil, errNotServed
	}
	pr, err := pageRequest(ctx, first, after, last, before, "")
	if err != nil {
		return nil, err
	}
	var f hubapi.AffectationFilter
	if filter != nil {
		f.ChantierID, f.UserID = deref(filter.ChantierID), deref(filter.UserID)
		f.From, f.To = deref(filter.From), deref(filter.To)
	}
	pg, err := r.o.Affectations.ListAffectations(ctx, f, pr, nodeSelection(ctx, affectationFields))
	if err != nil {
		return nil, inArgument(err, "filter")
	}
	recordPage(ctx, pr.Limit, len(pg.Items))
	c := &model.AffectationConnection{Nodes: model.Pointers(pg.Items), PageInfo: model.NewPageInfo(pg)}
	prefetchChantiers(ctx, c.Nodes, func(a *hubapi.Affectation) int64 { return a.ChantierID })
	return c, nil
}

func (r *queryResolver) Affectation(ctx context.Context, id int64) (*hubapi.Affectation, error) {
	if r.o.Affectations == nil {
		return nil, errNotServed
	}
	return nullIfNotFound(r.o.Affectations.GetAffectation(ctx, id))
}

func (r *queryResolver) Me(ctx context.Context) (*hubapi.User, error) {
	if r.o.Users == nil {
		return nil, errNotServed
	}
	return r.o.Users.Me(ctx)
}

func (r *queryResolver) Stats(ctx context.Context) (*hubapi.Stats, error) {
	if r.o.Stats == nil {
		return nil, errNotServed
	}
	return r.o.Stats.Stats(ctx)
}

// chantierSort turns orderBy into the list use case's sort syntax.
func chantierSort(orderBy []*model.ChantierOrder) (string, error) {
	if len(orderBy) > 3 {
		return "", argError("orderBy", "at most 3 orders")
	}
	parts := make([]string, 0, len(orderBy))
	for _, o := range orderBy {
		if o == nil || !o.Field.IsValid() {
			return "", argError("orderBy", "unknown field")
		}
		name := strings.ToLower(string(o.Field))
		if o.Direction != nil && *o.Direction == model.OrderDirectionDesc {
			name = "-" + name
		}
		parts = append(parts, name)
	}
	return strings.Join(parts, ","), nil
}

// ---- references

// chantierRef is a referenced chantier, from the request's loader (one
// query for every reference of the response), with its responsable when
// the query selects it.
func chantierRef(ctx context.Context, id int64) (*hubapi.Chantier, error) {
	l := loadersFrom(ctx)
	if l == nil {
		return nil, errNotServed
	}
	c, err := l.chantiers.Load(ctx, id)
	if err != nil || c == nil {
		return c, err
	}
	return withResponsable(ctx, c)
}

// fillResponsables sets the responsables the list use case did not load
// (it loads them when the selection names them: then this reads nothing),
// in one batch of the request's loader.
func fillResponsables(ctx context.Context, items []hubapi.Chantier) error {
	var ids []int64
	for i := range items {
		if items[i].ResponsableID != nil && items[i].Responsable == nil {
			ids = append(ids, *items[i].ResponsableID)
		}
	}
	l := loadersFrom(ctx)
	if len(ids) == 0 || l == nil || !selectsNodeField(ctx, "responsable") {
		return nil
	}
	users, err := l.users.LoadAll(ctx, ids)
	if err != nil {
		return err
	}
	j := 0
	for i := range items {
		if items[i].ResponsableID != nil && items[i].Responsable == nil {
			items[i].Responsable = users[j]
			j++
		}
	}
	return nil
}

// withResponsable returns c with its responsable when the field being
// resolved selects it and c lacks it: a copy (c may be shared by the
// loader's cache), the user read through the request's loader.
func withResponsable(ctx context.Context, c *hubapi.Chantier) (*hubapi.Chantier, error) {
	if c == nil || c.ResponsableID == nil || c.Responsable != nil || !selectsField(ctx, "responsable") {
		return c, nil
	}
	l := loadersFrom(ctx)
	if l == nil {
		return nil, errNotServed
	}
	u, err := l.users.Load(ctx, *c.ResponsableID)
	if err != nil {
		return nil, err
	}
	cp := *c
	cp.Responsable = u
	return &cp, nil
}

type pointageResolver struct{ *resolver }

func (r *pointageResolver) Chantier(ctx context.Context, obj *hubapi.Pointage) (*hubapi.Chantier, error) {
	return chantierRef(ctx, obj.ChantierID)
}

type documentResolver struct{ *resolver }

func (r *documentResolver) Chantier(ctx context.Context, obj *hubapi.Document) (*hubapi.Chantier, error) {
	return chantierRef(ctx, obj.ChantierID)
}

type signalementResolver struct{ *resolver }

func (r *signalementResolver) Chantier(ctx context.Context, obj *hubapi.Signalement) (*hubapi.Chantier, error) {
	return chantierRef(ctx, obj.ChantierID)
}

type affectationResolver struct{ *resolver }

func (r *affectationResolver) Chantier(ctx context.Context, obj *hubapi.Affectation) (*hubapi.Chantier, error) {
	return chantierRef(ctx, obj.ChantierID)
}

type meResolver struct{}

func (meResolver) Role(_ context.Context, obj *hubapi.User) (string, error) {
	return string(obj.Role), nil
}

type statsResolver struct{}

func (statsResolver) ChantiersParStatut(_ context.Context, obj *hubapi.Stats) ([]*model.CountByKey, error) {
	return counts(obj.ChantiersParStatut), nil
}

func (statsResolver) SignalementsOuvertsParGravite(_ context.Context, obj *hubapi.Stats) ([]*model.CountByKey, error) {
	return counts(obj.SignalementsOuvertsParGravite), nil
}

// counts lists m by key, in key order.
func counts(m map[string]int) []*model.CountByKey {
	out := make([]*model.CountByKey, 0, len(m))
	for k, n := range m {
		out = append(out, &model.CountByKey{Key: k, Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// ---- connections

type chantierConnResolver struct{}

func (chantierConnResolver) Edges(_ context.Context, c *model.ChantierConnection) ([]*model.ChantierEdge, error) {
	out := make([]*model.ChantierEdge, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = &model.ChantierEdge{Node: n}
	}
	return out, nil
}

type pointageConnResolver struct{}

func (pointageConnResolver) Edges(_ context.Context, c *model.PointageConnection) ([]*model.PointageEdge, error) {
	out := make([]*model.PointageEdge, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = &model.PointageEdge{Node: n}
	}
	return out, nil
}

type documentConnResolver struct{}

func (documentConnResolver) Edges(_ context.Context, c *model.DocumentConnection) ([]*model.DocumentEdge, error) {
	out := make([]*model.DocumentEdge, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = &model.DocumentEdge{Node: n}
	}
	return out, nil
}

type signalementConnResolver struct{}

func (signalementConnResolver) Edges(_ context.Context, c *model.SignalementConnection) ([]*model.SignalementEdge, error) {
	out := make([]*model.SignalementEdge, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = &model.SignalementEdge{Node: n}
	}
	return out, nil
}

type affectationConnResolver struct{}

func (affectationConnResolver) Edges(_ context.Context, c *model.AffectationConnection) ([]*model.AffectationEdge, error) {
	out := make([]*model.AffectationEdge, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = &model.AffectationEdge{Node: n}
	}
	return out, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// nullIfNotFound answers null, without error, for a missing object.
func nullIfNotFound[T any](v *T, err error) (*T, error) {
	if err != nil && isNotFound(err) {
		return nil, nil
	}
	return v, err
}
