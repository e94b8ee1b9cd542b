package graphql

import (
	"context"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/graphql/model"
)

// mutationResolver calls the write use cases. version, when given, is the
// If-Match precondition of REST: the write happens only if the stored
// version still is that one.
type mutationResolver struct{ *resolver }

func (r *mutationResolver) CreateChantier(ctx context.Context, in model.ChantierInput) (*hubapi.Chantier, error) {
	if r.o.Chantiers == nil {
		return nil, errNotServed
	}
	c, err := r.o.Chantiers.CreateChantier(ctx, chantierInput(in))
	if err != nil {
		return nil, inArgument(err, "input")
	}
	return withResponsable(ctx, c)
}

func (r *mutationResolver) UpdateChantier(ctx context.Context, id int64, in model.ChantierInput, version *int) (*hubapi.Chantier, error) {
	if r.o.Chantiers == nil {
		return nil, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return nil, err
	}
	c, err := r.o.Chantiers.UpdateChantier(ctx, id, chantierInput(in), v)
	if err != nil {
		return nil, inArgument(err, "input")
	}
	return withResponsable(ctx, c)
}

func (r *mutationResolver) DeleteChantier(ctx context.Context, id int64, version *int) (int64, error) {
	if r.o.Chantiers == nil {
		return 0, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return 0, err
	}
	if err := r.o.Chantiers.DeleteChantier(ctx, id, v); err != nil {
		return 0, err
	}
	return id, nil
}

func (r *mutationResolver) CreatePointage(ctx context.Context, in model.PointageInput) (*hubapi.Pointage, error) {
	if r.o.Pointages == nil {
		return nil, errNotServed
	}
	p, err := r.o.Pointages.CreatePointage(ctx, pointageInput(in))
	return p, inArgument(err, "input")
}

func (r *mutationResolver) UpdatePointage(ctx context.Context, id int64, in model.PointageInput, version *int) (*hubapi.Pointage, error) {
	if r.o.Pointages == nil {
		return nil, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return nil, err
	}
	p, err := r.o.Pointages.UpdatePointage(ctx, id, pointageInput(in), v)
	return p, inArgument(err, "input")
}

func (r *mutationResolver) ValidatePointage(ctx context.Context, id int64, version *int) (*hubapi.Pointage, error) {
	if r.o.Pointages == nil {
		return nil, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return nil, err
	}
	return r.o.Pointages.ValidatePointage(ctx, id, v)
}

func (r *mutationResolver) DeletePointage(ctx context.Context, id int64, version *int) (int64, error) {
	if r.o.Pointages == nil {
		return 0, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return 0, err
	}
	if err := r.o.Pointages.DeletePointage(ctx, id, v); err != nil {
		return 0, err
	}
	return id, nil
}

func (r *mutationResolver) CreateSignalement(ctx context.Context, in model.SignalementInput) (*hubapi.Signalement, error) {
	if r.o.Signalements == nil {
		return nil, errNotServed
	}
	s, err := r.o.Signalements.CreateSignalement(ctx, signalementInput(in))
	return s, inArgument(err, "input")
}

func (r *mutationResolver) UpdateSignalement(ctx context.Context, id int64, in model.SignalementInput, version *int) (*hubapi.Signalement, error) {
	if r.o.Signalements == nil {
		return nil, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return nil, err
	}
	s, err := r.o.Signalements.UpdateSignalement(ctx, id, signalementInput(in), v)
	return s, inArgument(err, "input")
}

func (r *mutationResolver) DeleteSignalement(ctx context.Context, id int64, version *int) (int64, error) {
	if r.o.Signalements == nil {
		return 0, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return 0, err
	}
	if err := r.o.Signalements.DeleteSignalement(ctx, id, v); err != nil {
		return 0, err
	}
	return id, nil
}

func (r *mutationResolver) CreateAffectation(ctx context.Context, in model.AffectationInput) (*hubapi.Affectation, error) {
	if r.o.Affectations == nil {
		return nil, errNotServed
	}
	a, err := r.o.Affectations.CreateAffectation(ctx, affectationInput(in))
	return a, inArgument(err, "input")
}

func (r *mutationResolver) UpdateAffectation(ctx context.Context, id int64, in model.AffectationInput, version *int) (*hubapi.Affectation, error) {
	if r.o.Affectations == nil {
		return nil, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return nil, err
	}
	a, err := r.o.Affectations.UpdateAffectation(ctx, id, affectationInput(in), v)
	return a, inArgument(err, "input")
}

func (r *mutationResolver) DeleteAffectation(ctx context.Context, id int64, version *int) (int64, error) {
	if r.o.Affectations == nil {
		return 0, errNotServed
	}
	v, err := ifVersion(version)
	if err != nil {
		return 0, err
	}
	if err := r.o.Affectations.DeleteAffectation(ctx, id, v); err != nil {
		return 0, err
	}
	return id, nil
}

// ifVersion is the precondition of a write: 0 (none) or a positive version.
func ifVersion(v *int) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 1 {
		return 0, argError("version", "must be a positive version")
	}
	return int64(*v), nil
}

func chantierInput(in model.ChantierInput) hubapi.ChantierInput {
	out := hubapi.ChantierInput{Code: in.Code, Nom: in.Nom, Adresse: in.Adresse, Ville: deref(in.Ville),
		CodePostal: deref(in.CodePostal), Statut: deref(in.Statut), ClientNom: deref(in.ClientNom),
		ResponsableID: in.ResponsableID, DateDebut: deref(in.DateDebut), DateFin: deref(in.DateFin),
		Latitude: in.Latitude, Longitude: in.Longitude, Description: deref(in.Description)}
	if in.BudgetCents != nil {
		out.BudgetCents = int64(*in.BudgetCents)
	}
	return out
}

func pointageInput(in model.PointageInput) hubapi.PointageInput {
	return hubapi.PointageInput{UserID: in.UserID, ChantierID: in.ChantierID, Date: in.Date, Minutes: in.Minutes,
		Type: deref(in.Type), Statut: deref(in.Statut), Commentaire: deref(in.Commentaire)}
}

func signalementInput(in model.SignalementInput) hubapi.SignalementInput {
	return hubapi.SignalementInput{ChantierID: in.ChantierID, Titre: in.Titre, Description: deref(in.Description),
		Gravite: deref(in.Gravite), Statut: deref(in.Statut), AssignedTo: in.AssignedTo}
}

func affectationInput(in model.AffectationInput) hubapi.AffectationInput {
	return hubapi.AffectationInput{UserID: in.UserID, ChantierID: in.ChantierID, Date: in.Date,
		HeureDebut: in.HeureDebut, HeureFin: in.HeureFin, Note: deref(in.Note)}
}
