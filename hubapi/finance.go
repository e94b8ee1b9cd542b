package hubapi

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/fields"
)

// The accounting side of a chantier: its clients, the invoices sent to them
// (factures) and what it cost (dépenses). Amounts are integer cents.
//
// Each row may carry the reference of the vendor it was imported from or
// exported to (external_source, external_id): an accounting connector keeps
// its own mapping (ExternalRef) so that a record read again updates its row,
// and shows the vendor's reference on the row.

// ExternalRef links a row of the product to a vendor's record, per
// connector: (connector, resource, vendor id) → row. A connector's sync
// upserts through it, in the transaction of its checkpoint, so a record
// delivered again (retry, rerun) updates the same row.
type ExternalRef struct {
	ConnectorID int64     `bun:"connector_id,pk" json:"connector_id"`
	Resource    Resource  `bun:"resource,pk" json:"resource"`
	ExternalID  string    `bun:"external_id,pk" json:"external_id"`
	ResourceID  int64     `bun:"resource_id,notnull" json:"resource_id"`
	CreatedAt   time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at,notnull" json:"updated_at"`
}

// Client is a customer of the company (a Sage "tiers").
type Client struct {
	ID             int64     `bun:"id,pk,autoincrement" json:"id"`
	Code           string    `bun:"code,notnull" json:"code"`
	Nom            string    `bun:"nom,notnull" json:"nom"`
	Email          string    `bun:"email,notnull" json:"email"`
	Telephone      string    `bun:"telephone,notnull" json:"telephone"`
	Adresse        string    `bun:"adresse,notnull" json:"adresse"`
	CodePostal     string    `bun:"code_postal,notnull" json:"code_postal"`
	Ville          string    `bun:"ville,notnull" json:"ville"`
	Siret          string    `bun:"siret,notnull" json:"siret"`
	ExternalSource *string   `bun:"external_source" json:"external_source"`
	ExternalID     *string   `bun:"external_id" json:"external_id"`
	CreatedAt      time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at,notnull" json:"updated_at"`
	Version        int64     `bun:"version,notnull" json:"version"`
}

// ClientInput is the body of create and replace; only nom is required.
type ClientInput struct {
	Code           string  `json:"code"`
	Nom            string  `json:"nom"`
	Email          string  `json:"email"`
	Telephone      string  `json:"telephone"`
	Adresse        string  `json:"adresse"`
	CodePostal     string  `json:"code_postal"`
	Ville          string  `json:"ville"`
	Siret          string  `json:"siret"`
	ExternalSource *string `json:"external_source"`
	ExternalID     *string `json:"external_id"`
}

// Input returns the writable fields of c.
func (c *Client) Input() ClientInput {
	return ClientInput{c.Code, c.Nom, c.Email, c.Telephone, c.Adresse, c.CodePostal, c.Ville, c.Siret, c.ExternalSource, c.ExternalID}
}

// Apply copies in onto c.
func (c *Client) Apply(in ClientInput) {
	c.Code, c.Nom, c.Email, c.Telephone, c.Adresse = in.Code, in.Nom, in.Email, in.Telephone, in.Adresse
	c.CodePostal, c.Ville, c.Siret, c.ExternalSource, c.ExternalID = in.CodePostal, in.Ville, in.Siret, in.ExternalSource, in.ExternalID
}

var (
	clientCodeRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)
	siretRe      = regexp.MustCompile(`^[0-9]{14}$`)
	emailRe      = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	telephoneRe  = regexp.MustCompile(`^\+?[0-9 .()-]{4,30}$`)
)

// Normalize trims text.
func (in *ClientInput) Normalize() {
	for _, s := range []*string{&in.Code, &in.Nom, &in.Email, &in.Telephone, &in.Adresse, &in.CodePostal, &in.Ville, &in.Siret} {
		*s = strings.TrimSpace(*s)
	}
	in.Siret = strings.ReplaceAll(in.Siret, " ", "")
	normalizeRef(&in.ExternalSource, &in.ExternalID)
}

// Validate checks the input after Normalize.
func (in *ClientInput) Validate() error {
	var v validator
	v.check(in.Code == "" || clientCodeRe.MatchString(in.Code), "code", "1 to 32 letters, digits, '.', '-' or '_'")
	checkText(&v, "nom", in.Nom, 1, 200)
	v.check(in.Email == "" || (len(in.Email) <= 254 && emailRe.MatchString(in.Email)), "email", "must be an e-mail address")
	v.check(in.Telephone == "" || telephoneRe.MatchString(in.Telephone), "telephone", "must be a telephone number")
	checkText(&v, "adresse", in.Adresse, 0, 300)
	v.check(in.CodePostal == "" || codePostalRe.MatchString(in.CodePostal), "code_postal", "must be 5 digits")
	checkText(&v, "ville", in.Ville, 0, 100)
	v.check(in.Siret == "" || siretRe.MatchString(in.Siret), "siret", "must be 14 digits")
	checkRef(&v, in.ExternalSource, in.ExternalID)
	return v.err()
}

// ClientFilter selects clients in lists.
type ClientFilter struct {
	Ville string
}

// Validate checks a filter built by an adapter.
func (f *ClientFilter) Validate() error {
	var v validator
	checkText(&v, "ville", f.Ville, 0, 100)
	return v.err()
}

// FactureStatut is the state of an invoice.
type FactureStatut string

// Facture states: brouillon → emise → payee, or annulee.
const (
	FactureBrouillon FactureStatut = "brouillon"
	FactureEmise     FactureStatut = "emise"
	FacturePayee     FactureStatut = "payee"
	FactureAnnulee   FactureStatut = "annulee"
)

// FactureStatuts lists every state.
var FactureStatuts = []FactureStatut{FactureBrouillon, FactureEmise, FacturePayee, FactureAnnulee}

// Facture is an invoice of a chantier's work to a client, for a period.
// MontantTTCCents is always MontantHTCents + TVACents.
type Facture struct {
	ID              int64         `bun:"id,pk,autoincrement" json:"id"`
	Numero          string        `bun:"numero,notnull" json:"numero"`
	ChantierID      int64         `bun:"chantier_id,notnull" json:"chantier_id"`
	ClientID        *int64        `bun:"client_id" json:"client_id"`
	PeriodeDebut    Date          `bun:"periode_debut,nullzero,type:date" json:"periode_debut"`
	PeriodeFin      Date          `bun:"periode_fin,nullzero,type:date" json:"periode_fin"`
	DateEmission    Date          `bun:"date_emission,nullzero,type:date" json:"date_emission"`
	Libelle         string        `bun:"libelle,notnull" json:"libelle"`
	MontantHTCents  int64         `bun:"montant_ht_cents,notnull" json:"montant_ht_cents"`
	TVACents        int64         `bun:"tva_cents,notnull" json:"tva_cents"`
	MontantTTCCents int64         `bun:"montant_ttc_cents,notnull" json:"montant_ttc_cents"`
	Statut          FactureStatut `bun:"statut,notnull" json:"statut"`
	ExternalSource  *string       `bun:"external_source" json:"external_source"`
	ExternalID      *string       `bun:"external_id" json:"external_id"`
	CreatedAt       time.Time     `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt       time.Time     `bun:"updated_at,notnull" json:"updated_at"`
	Version         int64         `bun:"version,notnull" json:"version"`
}

// FactureInput is the body of create and replace. montant_ttc_cents is
// computed (HT + TVA).
type FactureInput struct {
	Numero         string        `json:"numero"`
	ChantierID     int64         `json:"chantier_id"`
	ClientID       *int64        `json:"client_id"`
	PeriodeDebut   Date          `json:"periode_debut"`
	PeriodeFin     Date          `json:"periode_fin"`
	DateEmission   Date          `json:"date_emission"`
	Libelle        string        `json:"libelle"`
	MontantHTCents int64         `json:"montant_ht_cents"`
	TVACents       int64         `json:"tva_cents"`
	Statut         FactureStatut `json:"statut"`
	ExternalSource *string       `json:"external_source"`
	ExternalID     *string       `json:"external_id"`
}

// Input returns the writable fields of f.
func (f *Facture) Input() FactureInput {
	return FactureInput{f.Numero, f.ChantierID, f.ClientID, f.PeriodeDebut, f.PeriodeFin, f.DateEmission, f.Libelle,
		f.MontantHTCents, f.TVACents, f.Statut, f.ExternalSource, f.ExternalID}
}

// Apply copies in onto f and computes the TTC amount.
func (f *Facture) Apply(in FactureInput) {
	f.Numero, f.ChantierID, f.ClientID, f.PeriodeDebut, f.PeriodeFin = in.Numero, in.ChantierID, in.ClientID, in.PeriodeDebut, in.PeriodeFin
	f.DateEmission, f.Libelle, f.MontantHTCents, f.TVACents, f.Statut = in.DateEmission, in.Libelle, in.MontantHTCents, in.TVACents, in.Statut
	f.ExternalSource, f.ExternalID = in.ExternalSource, in.ExternalID
	f.MontantTTCCents = in.MontantHTCents + in.TVACents
}

var factureNumeroRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./-]{0,39}$`)

// MaxAmountCents bounds an amount (10^13 cents: 100 billion euros), so that
// sums never overflow.
const MaxAmountCents = 10_000_000_000_000

// Normalize trims text and applies defaults.
func (in *FactureInput) Normalize() {
	in.Numero, in.Libelle = strings.TrimSpace(in.Numero), strings.TrimSpace(in.Libelle)
	if in.Statut == "" {
		in.Statut = FactureBrouillon
	}
	normalizeRef(&in.ExternalSource, &in.ExternalID)
}

// Validate checks the input after Normalize.
func (in *FactureInput) Validate() error {
	var v validator
	v.check(in.Numero == "" || factureNumeroRe.MatchString(in.Numero), "numero", "1 to 40 letters, digits, '.', '/', '-' or '_'")
	v.check(in.ChantierID > 0, "chantier_id", "required: a positive id")
	v.check(in.ClientID == nil || *in.ClientID > 0, "client_id", "must be a positive id")
	checkDate(&v, "periode_debut", in.PeriodeDebut)
	checkDate(&v, "periode_fin", in.PeriodeFin)
	checkDate(&v, "date_emission", in.DateEmission)
	v.check(in.PeriodeDebut.IsZero() || in.PeriodeFin.IsZero() || !in.PeriodeFin.Before(in.PeriodeDebut), "periode_fin", "must not be before periode_debut")
	checkText(&v, "libelle", in.Libelle, 0, 300)
	v.check(in.MontantHTCents >= -MaxAmountCents && in.MontantHTCents <= MaxAmountCents, "montant_ht_cents", "out of range")
	v.check(in.TVACents >= -MaxAmountCents && in.TVACents <= MaxAmountCents, "tva_cents", "out of range")
	v.check(slices.Contains(FactureStatuts, in.Statut), "statut", "must be one of brouillon, emise, payee, annulee")
	checkRef(&v, in.ExternalSource, in.ExternalID)
	return v.err()
}

// FactureFilter selects factures in lists.
type FactureFilter struct {
	ChantierID int64
	ClientID   int64
	Statut     FactureStatut
}

// Validate checks a filter built by an adapter.
func (f *FactureFilter) Validate() error {
	var v validator
	v.check(f.ChantierID >= 0, "chantier_id", "must be a positive id")
	v.check(f.ClientID >= 0, "client_id", "must be a positive id")
	checkEnum(&v, "statut", f.Statut, FactureStatuts)
	return v.err()
}

// Depense is an expense of a chantier (a supplier's bill, a purchase).
// ChantierID is nil while the expense is not assigned to a chantier.
type Depense struct {
	ID             int64     `bun:"id,pk,autoincrement" json:"id"`
	ChantierID     *int64    `bun:"chantier_id" json:"chantier_id"`
	Date           Date      `bun:"date,notnull,type:date" json:"date"`
	Libelle        string    `bun:"libelle,notnull" json:"libelle"`
	Fournisseur    string    `bun:"fournisseur,notnull" json:"fournisseur"`
	MontantCents   int64     `bun:"montant_cents,notnull" json:"montant_cents"`
	ExternalSource *string   `bun:"external_source" json:"external_source"`
	ExternalID     *string   `bun:"external_id" json:"external_id"`
	CreatedAt      time.Time `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at,notnull" json:"updated_at"`
	Version        int64     `bun:"version,notnull" json:"version"`
}

// DepenseInput is the body of create and replace.
type DepenseInput struct {
	ChantierID     *int64  `json:"chantier_id"`
	Date           Date    `json:"date"`
	Libelle        string  `json:"libelle"`
	Fournisseur    string  `json:"fournisseur"`
	MontantCents   int64   `json:"montant_cents"`
	ExternalSource *string `json:"external_source"`
	ExternalID     *string `json:"external_id"`
}

// Input returns the writable fields of d.
func (d *Depense) Input() DepenseInput {
	return DepenseInput{d.ChantierID, d.Date, d.Libelle, d.Fournisseur, d.MontantCents, d.ExternalSource, d.ExternalID}
}

// Apply copies in onto d.
func (d *Depense) Apply(in DepenseInput) {
	d.ChantierID, d.Date, d.Libelle, d.Fournisseur, d.MontantCents = in.ChantierID, in.Date, in.Libelle, in.Fournisseur, in.MontantCents
	d.ExternalSource, d.ExternalID = in.ExternalSource, in.ExternalID
}

// Normalize trims text.
func (in *DepenseInput) Normalize() {
	in.Libelle, in.Fournisseur = strings.TrimSpace(in.Libelle), strings.TrimSpace(in.Fournisseur)
	normalizeRef(&in.ExternalSource, &in.ExternalID)
}

// Validate checks the input after Normalize.
func (in *DepenseInput) Validate() error {
	var v validator
	v.check(in.ChantierID == nil || *in.ChantierID > 0, "chantier_id", "must be a positive id")
	v.check(!in.Date.IsZero(), "date", "required")
	checkDate(&v, "date", in.Date)
	checkText(&v, "libelle", in.Libelle, 1, 300)
	checkText(&v, "fournisseur", in.Fournisseur, 0, 200)
	v.check(in.MontantCents >= -MaxAmountCents && in.MontantCents <= MaxAmountCents, "montant_cents", "out of range")
	checkRef(&v, in.ExternalSource, in.ExternalID)
	return v.err()
}

// DepenseFilter selects dépenses in lists.
type DepenseFilter struct {
	ChantierID int64
	From, To   Date
}

// Validate checks a filter built by an adapter.
func (f *DepenseFilter) Validate() error {
	var v validator
	v.check(f.ChantierID >= 0, "chantier_id", "must be a positive id")
	checkDate(&v, "date_from", f.From)
	checkDate(&v, "date_to", f.To)
	return v.err()
}

var externalSourceRe = regexp.MustCompile(`^[a-z][a-z0-9_:#-]{0,63}$`)

// normalizeRef trims a vendor reference; empty members become nil.
func normalizeRef(source, id **string) {
	for _, p := range []**string{source, id} {
		if *p == nil {
			continue
		}
		s := strings.TrimSpace(**p)
		if s == "" {
			*p = nil
			continue
		}
		*p = &s
	}
}

// checkRef checks a vendor reference: both members or neither.
func checkRef(v *validator, source, id *string) {
	v.check((source == nil) == (id == nil), "external_id", "external_source and external_id go together")
	v.check(source == nil || externalSourceRe.MatchString(*source), "external_source", "1 to 64 lower-case letters, digits, '_', ':', '#' or '-', starting with a letter")
	if id != nil {
		checkText(v, "external_id", *id, 1, 128)
	}
}

// ClientService manages clients (finances:read/write; admins and
// conducteurs). Errors as ChantierService; deleting a client that a facture
// names is ErrConflict.
type ClientService interface {
	GetClient(ctx context.Context, id int64) (*Client, error)
	ListClients(ctx context.Context, f ClientFilter, p PageRequest, sel *fields.Selection) (*Page[Client], error)
	CreateClient(ctx context.Context, in ClientInput) (*Client, error)
	UpdateClient(ctx context.Context, id int64, in ClientInput, ifVersion int64) (*Client, error)
	PatchClient(ctx context.Context, id int64, change func(current ClientInput) (ClientInput, error), ifVersion int64) (*Client, error)
	DeleteClient(ctx context.Context, id int64, ifVersion int64) error
}

// FactureService manages invoices (finances:read/write). Errors as
// ChantierService; chantier_id and client_id must exist (ErrInvalid).
type FactureService interface {
	GetFacture(ctx context.Context, id int64) (*Facture, error)
	ListFactures(ctx context.Context, f FactureFilter, p PageRequest, sel *fields.Selection) (*Page[Facture], error)
	CreateFacture(ctx context.Context, in FactureInput) (*Facture, error)
	UpdateFacture(ctx context.Context, id int64, in FactureInput, ifVersion int64) (*Facture, error)
	PatchFacture(ctx context.Context, id int64, change func(current FactureInput) (FactureInput, error), ifVersion int64) (*Facture, error)
	DeleteFacture(ctx context.Context, id int64, ifVersion int64) error
}

// DepenseService manages expenses (finances:read/write). Errors as
// ChantierService; chantier_id must exist (ErrInvalid).
type DepenseService interface {
	GetDepense(ctx context.Context, id int64) (*Depense, error)
	ListDepenses(ctx context.Context, f DepenseFilter, p PageRequest, sel *fields.Selection) (*Page[Depense], error)
	CreateDepense(ctx context.Context, in DepenseInput) (*Depense, error)
	UpdateDepense(ctx context.Context, id int64, in DepenseInput, ifVersion int64) (*Depense, error)
	PatchDepense(ctx context.Context, id int64, change func(current DepenseInput) (DepenseInput, error), ifVersion int64) (*Depense, error)
	DeleteDepense(ctx context.Context, id int64, ifVersion int64) error
}

// Events of the accounting resources (audited and queued like the others;
// not offered to webhook subscriptions yet).
const (
	EventClientCreated  EventType = "client.created"
	EventClientUpdated  EventType = "client.updated"
	EventClientDeleted  EventType = "client.deleted"
	EventFactureCreated EventType = "facture.created"
	EventFactureUpdated EventType = "facture.updated"
	EventFactureDeleted EventType = "facture.deleted"
	EventDepenseCreated EventType = "depense.created"
	EventDepenseUpdated EventType = "depense.updated"
	EventDepenseDeleted EventType = "depense.deleted"
)

// ConnectorExportInput is the body of POST
// /integrations/connectors/{id}/export: the kind of export and its period
// (dates included).
type ConnectorExportInput struct {
	Kind string `json:"kind"`
	From Date   `json:"from"`
	To   Date   `json:"to"`
}

// Validate checks an export request (a period of a year at most).
func (in *ConnectorExportInput) Validate() error {
	var v validator
	v.check(in.Kind == "factures", "kind", "must be factures")
	v.check(!in.From.IsZero(), "from", "required")
	v.check(!in.To.IsZero(), "to", "required")
	checkDate(&v, "from", in.From)
	checkDate(&v, "to", in.To)
	v.check(in.From.IsZero() || in.To.IsZero() || (!in.To.Before(in.From) && !in.From.AddDays(366).Before(in.To)), "to",
		"must be on or after from, within a year")
	return v.err()
}

// ConnectorExport is the result of an export: a vendor's refusal is a
// result (ok false, with the kind of failure), like a check.
type ConnectorExport struct {
	OK        bool   `json:"ok"`
	Kind      string `json:"kind,omitempty"`
	Error     string `json:"error,omitempty"`
	Items     int    `json:"items"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Skipped   int    `json:"skipped"`
}

// ConnectorExportService runs exports through connectors (the scope and
// rules of ConnectorService; a type that does not export: ErrConflict).
type ConnectorExportService interface {
	ExportConnector(ctx context.Context, id int64, in ConnectorExportInput) (*ConnectorExport, error)
}
