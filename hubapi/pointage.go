package hubapi

import (
	"context"
	"slices"
	"time"

	"github.com/hubchantier/hubchantier/fields"
)

// PointageType is the kind of hours worked.
type PointageType string

// Pointage types.
const (
	PointageNormal  PointageType = "normal"
	PointageNuit    PointageType = "nuit"
	PointageWeekend PointageType = "weekend"
	PointageFerie   PointageType = "ferie"
)

// PointageTypes lists every valid type.
var PointageTypes = []PointageType{PointageNormal, PointageNuit, PointageWeekend, PointageFerie}

// PointageStatut is the approval state of a time entry.
type PointageStatut string

// Pointage states: brouillon → soumis → valide | rejete.
const (
	PointageBrouillon PointageStatut = "brouillon"
	PointageSoumis    PointageStatut = "soumis"
	PointageValide    PointageStatut = "valide"
	PointageRejete    PointageStatut = "rejete"
)

// PointageStatuts lists every valid state.
var PointageStatuts = []PointageStatut{PointageBrouillon, PointageSoumis, PointageValide, PointageRejete}

// Pointage is a time entry: minutes a user worked on a site on a date.
type Pointage struct {
	ID          int64          `bun:"id,pk,autoincrement" json:"id"`
	UserID      int64          `bun:"user_id,notnull" json:"user_id"`
	ChantierID  int64          `bun:"chantier_id,notnull" json:"chantier_id"`
	Date        Date           `bun:"date,notnull,type:date" json:"date"`
	Minutes     int            `bun:"minutes,notnull" json:"minutes"`
	Type        PointageType   `bun:"type,notnull" json:"type"`
	Statut      PointageStatut `bun:"statut,notnull" json:"statut"`
	Commentaire string         `bun:"commentaire,notnull" json:"commentaire"`
	CreatedAt   time.Time      `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt   time.Time      `bun:"updated_at,notnull" json:"updated_at"`
	Version     int64          `bun:"version,notnull" json:"version"`
}

// PointageInput is the body of create and replace. user_id defaults to the
// caller; statut defaults to brouillon and may only be brouillon or soumis
// (validation goes through POST /pointages/{id}/validate).
type PointageInput struct {
	UserID      int64          `json:"user_id"`
	ChantierID  int64          `json:"chantier_id"`
	Date        Date           `json:"date"`
	Minutes     int            `json:"minutes"`
	Type        PointageType   `json:"type"`
	Statut      PointageStatut `json:"statut"`
	Commentaire string         `json:"commentaire"`
}

// Input returns the writable fields of p.
func (p *Pointage) Input() PointageInput {
	return PointageInput{p.UserID, p.ChantierID, p.Date, p.Minutes, p.Type, p.Statut, p.Commentaire}
}

// Apply copies in onto p.
func (p *Pointage) Apply(in PointageInput) {
	p.UserID, p.ChantierID, p.Date, p.Minutes = in.UserID, in.ChantierID, in.Date, in.Minutes
	p.Type, p.Statut, p.Commentaire = in.Type, in.Statut, in.Commentaire
}

// Normalize applies defaults.
func (in *PointageInput) Normalize() {
	if in.Type == "" {
		in.Type = PointageNormal
	}
	if in.Statut == "" {
		in.Statut = PointageBrouillon
	}
}

// Validate checks the input after Normalize.
func (in *PointageInput) Validate() error {
	var v validator
	v.check(in.UserID > 0, "user_id", "must be a positive id")
	v.check(in.ChantierID > 0, "chantier_id", "required: a positive id")
	v.check(!in.Date.IsZero(), "date", "required: YYYY-MM-DD")
	checkDate(&v, "date", in.Date)
	v.check(in.Minutes > 0 && in.Minutes <= 24*60, "minutes", "must be between 1 and 1440")
	v.check(slices.Contains(PointageTypes, in.Type), "type", "must be one of normal, nuit, weekend, ferie")
	v.check(in.Statut == PointageBrouillon || in.Statut == PointageSoumis, "statut", "must be brouillon or soumis (use the validate action to validate)")
	checkLines(&v, "commentaire", in.Commentaire, 0, 1000)
	return v.err()
}

// PointageFilter selects pointages in lists. From and To are inclusive.
type PointageFilter struct {
	ChantierID int64
	UserID     int64
	Statut     PointageStatut
	From, To   Date
}

// Validate checks a filter built by an adapter (field names are the v1
// query parameters).
func (f *PointageFilter) Validate() error {
	var v validator
	v.check(f.ChantierID >= 0, "chantier_id", "must be a positive id")
	v.check(f.UserID >= 0, "user_id", "must be a positive id")
	checkEnum(&v, "statut", f.Statut, PointageStatuts)
	checkDate(&v, "date_from", f.From)
	checkDate(&v, "date_to", f.To)
	return v.err()
}

// PointageService manages time entries (pointages:read / pointages:write).
// Who may do what is the Permissions matrix: a compagnon reads and writes
// only their own pointages (another user's is ErrNotFound).
type PointageService interface {
	GetPointage(ctx context.Context, id int64) (*Pointage, error)
	// ListPointages reads only the columns sel names (nil: all). Errors:
	// ErrForbidden, and those of PageRequest.
	ListPointages(ctx context.Context, f PointageFilter, p PageRequest, sel *fields.Selection) (*Page[Pointage], error)
	// Errors: ErrInvalid (unknown chantier or user), ErrForbidden.
	CreatePointage(ctx context.Context, in PointageInput) (*Pointage, error)
	// Errors: ErrConflict when the pointage is already validated.
	UpdatePointage(ctx context.Context, id int64, in PointageInput, ifVersion int64) (*Pointage, error)
	// PatchPointage is UpdatePointage with the new fields computed by
	// change from the current ones under the row lock (see PatchChantier).
	PatchPointage(ctx context.Context, id int64, change func(current PointageInput) (PointageInput, error), ifVersion int64) (*Pointage, error)
	DeletePointage(ctx context.Context, id int64, ifVersion int64) error
	// ValidatePointage moves soumis → valide. Only admin, conducteur and
	// chef_chantier may validate, and never their own pointage
	// (ErrForbidden). Errors: ErrConflict when not soumis.
	ValidatePointage(ctx context.Context, id int64, ifVersion int64) (*Pointage, error)
}
