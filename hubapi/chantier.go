package hubapi

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/fields"
)

// ChantierStatut is the life-cycle state of a construction site.
type ChantierStatut string

// Chantier states.
const (
	ChantierOuvert      ChantierStatut = "ouvert"
	ChantierEnCours     ChantierStatut = "en_cours"
	ChantierReceptionne ChantierStatut = "receptionne"
	ChantierFerme       ChantierStatut = "ferme"
)

// ChantierStatuts lists every valid state.
var ChantierStatuts = []ChantierStatut{ChantierOuvert, ChantierEnCours, ChantierReceptionne, ChantierFerme}

// Chantier is a construction site.
type Chantier struct {
	ID            int64          `bun:"id,pk,autoincrement" json:"id"`
	Code          string         `bun:"code,notnull" json:"code"`
	Nom           string         `bun:"nom,notnull" json:"nom"`
	Adresse       string         `bun:"adresse,notnull" json:"adresse"`
	Ville         string         `bun:"ville,notnull" json:"ville"`
	CodePostal    string         `bun:"code_postal,notnull" json:"code_postal"`
	Statut        ChantierStatut `bun:"statut,notnull" json:"statut"`
	ClientNom     string         `bun:"client_nom,notnull" json:"client_nom"`
	ResponsableID *int64         `bun:"responsable_id" json:"responsable_id"`
	BudgetCents   int64          `bun:"budget_cents,notnull" json:"budget_cents"`
	DateDebut     Date           `bun:"date_debut,nullzero,type:date" json:"date_debut"`
	DateFin       Date           `bun:"date_fin,nullzero,type:date" json:"date_fin"`
	Latitude      *float64       `bun:"latitude" json:"latitude"`
	Longitude     *float64       `bun:"longitude" json:"longitude"`
	Description   string         `bun:"description,notnull" json:"description"`
	CreatedAt     time.Time      `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt     time.Time      `bun:"updated_at,notnull" json:"updated_at"`
	Version       int64          `bun:"version,notnull" json:"version"`
	// Responsable is loaded only when a field selection names it
	// (ListChantiers, GetChantier); it is not part of the full
	// representation.
	Responsable *UserSummary `bun:"-" json:"-"`
}

// ChantierInput is the body of create and replace (PUT). Only code, nom and
// adresse are required.
type ChantierInput struct {
	Code          string         `json:"code"`
	Nom           string         `json:"nom"`
	Adresse       string         `json:"adresse"`
	Ville         string         `json:"ville"`
	CodePostal    string         `json:"code_postal"`
	Statut        ChantierStatut `json:"statut"`
	ClientNom     string         `json:"client_nom"`
	ResponsableID *int64         `json:"responsable_id"`
	BudgetCents   int64          `json:"budget_cents"`
	DateDebut     Date           `json:"date_debut"`
	DateFin       Date           `json:"date_fin"`
	Latitude      *float64       `json:"latitude"`
	Longitude     *float64       `json:"longitude"`
	Description   string         `json:"description"`
}

// Input returns the writable fields of c (the PATCH base document).
func (c *Chantier) Input() ChantierInput {
	return ChantierInput{c.Code, c.Nom, c.Adresse, c.Ville, c.CodePostal, c.Statut, c.ClientNom,
		c.ResponsableID, c.BudgetCents, c.DateDebut, c.DateFin, c.Latitude, c.Longitude, c.Description}
}

// Apply copies in onto c.
func (c *Chantier) Apply(in ChantierInput) {
	c.Code, c.Nom, c.Adresse, c.Ville, c.CodePostal = in.Code, in.Nom, in.Adresse, in.Ville, in.CodePostal
	c.Statut, c.ClientNom, c.ResponsableID, c.BudgetCents = in.Statut, in.ClientNom, in.ResponsableID, in.BudgetCents
	c.DateDebut, c.DateFin, c.Latitude, c.Longitude, c.Description = in.DateDebut, in.DateFin, in.Latitude, in.Longitude, in.Description
}

var (
	codeRe       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
	codePostalRe = regexp.MustCompile(`^[0-9]{5}$`)
)

// Normalize trims text and applies defaults.
func (in *ChantierInput) Normalize() {
	in.Code, in.Nom, in.Adresse = strings.TrimSpace(in.Code), strings.TrimSpace(in.Nom), strings.TrimSpace(in.Adresse)
	in.Ville, in.CodePostal, in.ClientNom = strings.TrimSpace(in.Ville), strings.TrimSpace(in.CodePostal), strings.TrimSpace(in.ClientNom)
	if in.Statut == "" {
		in.Statut = ChantierOuvert
	}
}

// Validate checks the input after Normalize.
func (in *ChantierInput) Validate() error {
	var v validator
	v.check(codeRe.MatchString(in.Code), "code", "required: 1 to 32 letters, digits, '-' or '_'")
	checkText(&v, "nom", in.Nom, 1, 200)
	checkText(&v, "adresse", in.Adresse, 1, 300)
	checkText(&v, "ville", in.Ville, 0, 100)
	v.check(in.CodePostal == "" || codePostalRe.MatchString(in.CodePostal), "code_postal", "must be 5 digits")
	v.check(slices.Contains(ChantierStatuts, in.Statut), "statut", "must be one of ouvert, en_cours, receptionne, ferme")
	checkText(&v, "client_nom", in.ClientNom, 0, 200)
	v.check(in.ResponsableID == nil || *in.ResponsableID > 0, "responsable_id", "must be a positive id")
	v.check(in.BudgetCents >= 0, "budget_cents", "must be positive or zero")
	v.check(in.DateDebut.IsZero() || in.DateFin.IsZero() || !in.DateFin.Before(in.DateDebut), "date_fin", "must not be before date_debut")
	v.check(in.Latitude == nil || (*in.Latitude >= -90 && *in.Latitude <= 90), "latitude", "must be between -90 and 90")
	v.check(in.Longitude == nil || (*in.Longitude >= -180 && *in.Longitude <= 180), "longitude", "must be between -180 and 180")
	checkLines(&v, "description", in.Description, 0, 5000)
	checkDate(&v, "date_debut", in.DateDebut)
	checkDate(&v, "date_fin", in.DateFin)
	return v.err()
}

// ChantierFilter selects chantiers in lists.
type ChantierFilter struct {
	Statut        ChantierStatut
	Ville         string
	ResponsableID int64
}

// Validate checks a filter built by an adapter (field names are the v1
// query parameters).
func (f *ChantierFilter) Validate() error {
	var v validator
	checkEnum(&v, "statut", f.Statut, ChantierStatuts)
	checkText(&v, "ville", f.Ville, 0, 100)
	v.check(f.ResponsableID >= 0, "responsable_id", "must be a positive id")
	return v.err()
}

// ChantierService manages construction sites. Reads need chantiers:read,
// writes chantiers:write.
type ChantierService interface {
	// GetChantier loads the responsable too when sel names it.
	// Errors: ErrNotFound, ErrForbidden.
	GetChantier(ctx context.Context, id int64, sel *fields.Selection) (*Chantier, error)
	// ListChantiers reads only the columns sel names (nil: all) and loads
	// the responsables when sel names them. Errors: ErrForbidden, and those
	// of PageRequest.
	ListChantiers(ctx context.Context, f ChantierFilter, p PageRequest, sel *fields.Selection) (*Page[Chantier], error)
	// Errors: ErrInvalid, ErrConflict (code taken), ErrForbidden.
	CreateChantier(ctx context.Context, in ChantierInput) (*Chantier, error)
	// UpdateChantier replaces the writable fields. ifVersion, when non-zero,
	// makes the write conditional on the stored version (atomic).
	// Errors: ErrNotFound, ErrInvalid, ErrConflict, ErrPrecondition, ErrForbidden.
	UpdateChantier(ctx context.Context, id int64, in ChantierInput, ifVersion int64) (*Chantier, error)
	// PatchChantier computes the new writable fields with change, called
	// with the current ones while the row is locked, so that concurrent
	// patches without a precondition all apply, one after the other (a
	// merge patch of one field never undoes another's). An error from
	// change is returned as is. Errors: those of UpdateChantier.
	PatchChantier(ctx context.Context, id int64, change func(current ChantierInput) (ChantierInput, error), ifVersion int64) (*Chantier, error)
	// Errors: ErrNotFound, ErrPrecondition, ErrConflict (still referenced), ErrForbidden.
	DeleteChantier(ctx context.Context, id int64, ifVersion int64) error
}
