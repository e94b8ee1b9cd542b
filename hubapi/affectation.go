package hubapi

import (
	"context"
	"regexp"
	"time"

	"github.com/hubchantier/hubchantier/fields"
)

// Affectation assigns a user to a site on a date and time slot (planning).
type Affectation struct {
	ID         int64     `bun:"id,pk,autoincrement" json:"id"`
	UserID     int64     `bun:"user_id,notnull" json:"user_id"`
	ChantierID int64     `bun:"chantier_id,notnull" json:"chantier_id"`
	Date       Date      `bun:"date,notnull,type:date" json:"date"`
	HeureDebut string    `bun:"heure_debut,notnull" json:"heure_debut"`
	HeureFin   string    `bun:"heure_fin,notnull" json:"heure_fin"`
	Note       string    `bun:"note,notnull" json:"note"`
	CreatedAt  time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt  time.Time `bun:"updated_at,notnull" json:"updated_at"`
	Version    int64     `bun:"version,notnull" json:"version"`
}

// AffectationInput is the body of create and replace.
type AffectationInput struct {
	UserID     int64  `json:"user_id"`
	ChantierID int64  `json:"chantier_id"`
	Date       Date   `json:"date"`
	HeureDebut string `json:"heure_debut"`
	HeureFin   string `json:"heure_fin"`
	Note       string `json:"note"`
}

// Input returns the writable fields of a.
func (a *Affectation) Input() AffectationInput {
	return AffectationInput{a.UserID, a.ChantierID, a.Date, a.HeureDebut, a.HeureFin, a.Note}
}

// Apply copies in onto a.
func (a *Affectation) Apply(in AffectationInput) {
	a.UserID, a.ChantierID, a.Date, a.HeureDebut, a.HeureFin, a.Note = in.UserID, in.ChantierID, in.Date, in.HeureDebut, in.HeureFin, in.Note
}

var hourRe = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Normalize applies defaults (a working day 08:00–17:00).
func (in *AffectationInput) Normalize() {
	if in.HeureDebut == "" {
		in.HeureDebut = "08:00"
	}
	if in.HeureFin == "" {
		in.HeureFin = "17:00"
	}
}

// Validate checks the input after Normalize.
func (in *AffectationInput) Validate() error {
	var v validator
	v.check(in.UserID > 0, "user_id", "required: a positive id")
	v.check(in.ChantierID > 0, "chantier_id", "required: a positive id")
	v.check(!in.Date.IsZero(), "date", "required: YYYY-MM-DD")
	checkDate(&v, "date", in.Date)
	v.check(hourRe.MatchString(in.HeureDebut), "heure_debut", "must be HH:MM")
	v.check(hourRe.MatchString(in.HeureFin), "heure_fin", "must be HH:MM")
	v.check(in.HeureFin > in.HeureDebut, "heure_fin", "must be after heure_debut")
	checkLines(&v, "note", in.Note, 0, 1000)
	return v.err()
}

// AffectationFilter selects affectations; From and To are inclusive.
type AffectationFilter struct {
	ChantierID int64
	UserID     int64
	From, To   Date
}

// Validate checks a filter built by an adapter (field names are the v1
// query parameters).
func (f *AffectationFilter) Validate() error {
	var v validator
	v.check(f.ChantierID >= 0, "chantier_id", "must be a positive id")
	v.check(f.UserID >= 0, "user_id", "must be a positive id")
	checkDate(&v, "date_from", f.From)
	checkDate(&v, "date_to", f.To)
	return v.err()
}

// AffectationService manages the planning (planning:read / planning:write).
// Who may do what is the Permissions matrix: a compagnon reads only their
// own affectations (another user's is ErrNotFound) and plans nothing.
type AffectationService interface {
	GetAffectation(ctx context.Context, id int64) (*Affectation, error)
	// ListAffectations reads only the columns sel names (nil: all). Errors:
	// ErrForbidden, and those of PageRequest.
	ListAffectations(ctx context.Context, f AffectationFilter, p PageRequest, sel *fields.Selection) (*Page[Affectation], error)
	CreateAffectation(ctx context.Context, in AffectationInput) (*Affectation, error)
	UpdateAffectation(ctx context.Context, id int64, in AffectationInput, ifVersion int64) (*Affectation, error)
	// PatchAffectation is UpdateAffectation with the new fields computed
	// by change from the current ones under the row lock (see
	// PatchChantier).
	PatchAffectation(ctx context.Context, id int64, change func(current AffectationInput) (AffectationInput, error), ifVersion int64) (*Affectation, error)
	DeleteAffectation(ctx context.Context, id int64, ifVersion int64) error
	// Planning returns the affectations between from and to (inclusive, at
	// most 92 days), optionally of one user, ordered by date and start time.
	Planning(ctx context.Context, from, to Date, userID int64) ([]Affectation, error)
}
