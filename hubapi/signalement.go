package hubapi

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/fields"
)

// Gravite is the severity of an incident report.
type Gravite string

// Severities.
const (
	GraviteBasse   Gravite = "basse"
	GraviteMoyenne Gravite = "moyenne"
	GraviteHaute   Gravite = "haute"
	GraviteUrgente Gravite = "urgente"
)

// Gravites lists every severity.
var Gravites = []Gravite{GraviteBasse, GraviteMoyenne, GraviteHaute, GraviteUrgente}

// SignalementStatut is the state of an incident report.
type SignalementStatut string

// Signalement states.
const (
	SignalementOuvert  SignalementStatut = "ouvert"
	SignalementEnCours SignalementStatut = "en_cours"
	SignalementResolu  SignalementStatut = "resolu"
	SignalementFerme   SignalementStatut = "ferme"
)

// SignalementStatuts lists every state.
var SignalementStatuts = []SignalementStatut{SignalementOuvert, SignalementEnCours, SignalementResolu, SignalementFerme}

// Signalement is an incident report on a site.
type Signalement struct {
	ID          int64             `bun:"id,pk,autoincrement" json:"id"`
	ChantierID  int64             `bun:"chantier_id,notnull" json:"chantier_id"`
	Titre       string            `bun:"titre,notnull" json:"titre"`
	Description string            `bun:"description,notnull" json:"description"`
	Gravite     Gravite           `bun:"gravite,notnull" json:"gravite"`
	Statut      SignalementStatut `bun:"statut,notnull" json:"statut"`
	CreatedBy   int64             `bun:"created_by,notnull" json:"created_by"`
	AssignedTo  *int64            `bun:"assigned_to" json:"assigned_to"`
	ResolvedAt  *time.Time        `bun:"resolved_at" json:"resolved_at"`
	CreatedAt   time.Time         `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt   time.Time         `bun:"updated_at,notnull" json:"updated_at"`
	Version     int64             `bun:"version,notnull" json:"version"`
}

// SignalementInput is the body of create and replace.
type SignalementInput struct {
	ChantierID  int64             `json:"chantier_id"`
	Titre       string            `json:"titre"`
	Description string            `json:"description"`
	Gravite     Gravite           `json:"gravite"`
	Statut      SignalementStatut `json:"statut"`
	AssignedTo  *int64            `json:"assigned_to"`
}

// Input returns the writable fields of s.
func (s *Signalement) Input() SignalementInput {
	return SignalementInput{s.ChantierID, s.Titre, s.Description, s.Gravite, s.Statut, s.AssignedTo}
}

// Apply copies in onto s and keeps ResolvedAt consistent with the state.
func (s *Signalement) Apply(in SignalementInput, now time.Time) {
	s.ChantierID, s.Titre, s.Description, s.Gravite, s.AssignedTo = in.ChantierID, in.Titre, in.Description, in.Gravite, in.AssignedTo
	s.Statut = in.Statut
	switch {
	case (s.Statut == SignalementResolu || s.Statut == SignalementFerme) && s.ResolvedAt == nil:
		t := now
		s.ResolvedAt = &t
	case s.Statut == SignalementOuvert || s.Statut == SignalementEnCours:
		s.ResolvedAt = nil
	}
}

// Normalize trims text and applies defaults.
func (in *SignalementInput) Normalize() {
	in.Titre = strings.TrimSpace(in.Titre)
	if in.Gravite == "" {
		in.Gravite = GraviteMoyenne
	}
	if in.Statut == "" {
		in.Statut = SignalementOuvert
	}
}

// Validate checks the input after Normalize.
func (in *SignalementInput) Validate() error {
	var v validator
	v.check(in.ChantierID > 0, "chantier_id", "required: a positive id")
	checkText(&v, "titre", in.Titre, 1, 200)
	checkLines(&v, "description", in.Description, 0, 5000)
	v.check(slices.Contains(Gravites, in.Gravite), "gravite", "must be one of basse, moyenne, haute, urgente")
	v.check(slices.Contains(SignalementStatuts, in.Statut), "statut", "must be one of ouvert, en_cours, resolu, ferme")
	v.check(in.AssignedTo == nil || *in.AssignedTo > 0, "assigned_to", "must be a positive id")
	return v.err()
}

// SignalementFilter selects signalements in lists.
type SignalementFilter struct {
	ChantierID int64
	Statut     SignalementStatut
	Gravite    Gravite
}

// Validate checks a filter built by an adapter (field names are the v1
// query parameters).
func (f *SignalementFilter) Validate() error {
	var v validator
	v.check(f.ChantierID >= 0, "chantier_id", "must be a positive id")
	checkEnum(&v, "statut", f.Statut, SignalementStatuts)
	checkEnum(&v, "gravite", f.Gravite, Gravites)
	return v.err()
}

// SignalementService manages incident reports (signalements:read/write).
// Who may do what is the Permissions matrix: a compagnon changes and
// deletes only their own open signalements and resolves none
// (ErrForbidden).
// Creating an urgent signalement also emits EventSignalementUrgent.
type SignalementService interface {
	GetSignalement(ctx context.Context, id int64) (*Signalement, error)
	// ListSignalements reads only the columns sel names (nil: all). Errors:
	// ErrForbidden, and those of PageRequest.
	ListSignalements(ctx context.Context, f SignalementFilter, p PageRequest, sel *fields.Selection) (*Page[Signalement], error)
	CreateSignalement(ctx context.Context, in SignalementInput) (*Signalement, error)
	// UpdateSignalement replaces the writable fields; moving statut into or
	// out of resolu/ferme also needs the validate grant (Permissions).
	UpdateSignalement(ctx context.Context, id int64, in SignalementInput, ifVersion int64) (*Signalement, error)
	// PatchSignalement is UpdateSignalement with the new fields computed
	// by change from the current ones under the row lock (see
	// PatchChantier).
	PatchSignalement(ctx context.Context, id int64, change func(current SignalementInput) (SignalementInput, error), ifVersion int64) (*Signalement, error)
	DeleteSignalement(ctx context.Context, id int64, ifVersion int64) error
}

// Closed reports whether the signalement is resolved or closed: changing
// that is a validation (resolve or reopen), and its author, when a
// compagnon, may no longer change or delete it.
func (s SignalementStatut) Closed() bool { return s == SignalementResolu || s == SignalementFerme }
