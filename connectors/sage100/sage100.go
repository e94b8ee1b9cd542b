// Package sage100 connects Hub Chantier to Sage 100 (Gestion commerciale
// and Comptabilité) through the "API Sage 100", its OData v4 REST surface
// (developer.sage.com/100/fr/cloud): one dataset per company, resources
// under /companies('{company_id}')/, at most 100 records per answer
// ($top, $skip, $count, @odata.nextLink), $filter and $orderby on their
// properties, OData error bodies ({"error": {"code", "message"}}).
//
// Import (Sync), incremental by modification date:
//
//	GET /companies('{company_id}')/tiers?$filter=type eq 'Client' and (dateModification gt T or (dateModification eq T and numero gt 'N'))&$orderby=dateModification,numero&$top=100
//	GET /companies('{company_id}')/affaires?$filter=...same keyset...
//
// Tiers become clients, affaires chantiers (streams "clients" and
// "chantiers", which the product upserts by the vendor's numero and code:
// Spec.Imports). The checkpoint is the (dateModification, key) of the last
// record read of each resource, so the next sync reads only what changed
// since, and a sync resumed after a crash reads exactly what follows its
// last commit.
//
// Export (Export, kind "factures"): one sales invoice per chantier and
// client for the validated pointages of a period,
//
//	GET  /companies('{company_id}')/documentsVente?$filter=type eq 'Facture' and reference eq 'R'
//	POST /companies('{company_id}')/documentsVente            (new)
//	PATCH /companies('{company_id}')/documentsVente('{id}')   (already exported: updated)
//
// where R is derived from the item's key, so an export run twice updates
// its invoices and never doubles them.
//
// Authentication: "Authorization: Bearer <api_key>" (the key the API
// gateway of the company's Sage 100 issues).
package sage100

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
)

// Type is the connector's type.
const Type = "sage100"

// PageSize is how many records one Sync call reads (the API's maximum).
const PageSize = 100

// Default prices of the export: an hour of work, and the VAT rate in
// thousandths (200 = 20 %).
const (
	DefaultHourlyRateCents = 4500
	DefaultVATPerMille     = 200
)

// Spec is the Sage 100 connector's spec. The API gateway of a company's
// Sage 100 is on its premises or hosted for it: its URL is a setting.
var Spec = connectors.Spec{
	Type: Type,
	Settings: []connectors.Field{{Name: "api_url", Required: true, MaxLen: 300}, {Name: "company_id", Required: true, MaxLen: 100},
		{Name: "taux_horaire_cents", MaxLen: 12}, {Name: "taux_tva_pour_mille", MaxLen: 4}},
	Secrets:   []connectors.Field{{Name: "api_key", Required: true, MaxLen: 500}},
	RateLimit: connectors.Rate{Limit: 20, Period: time.Second},
	Imports:   []string{"clients", "chantiers", "factures"},
}

// Register adds the connector to reg.
func Register(reg *connectors.Registry) error { return reg.Register(Spec, New) }

// New builds the connector. Options.BaseURL (tests, fakes) replaces the
// configured api_url.
func New(opts connectors.Options) (connectors.Connector, error) {
	var override *url.URL
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("sage100: invalid base URL")
		}
		override = u
	}
	return &Connector{override: override, client: opts.HTTPClient}, nil
}

// Connector is the Sage 100 connector.
type Connector struct {
	override *url.URL
	client   *http.Client
}

// Type implements connectors.Connector.
func (c *Connector) Type() string { return Type }

var companyIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// base returns the API's URL for the configuration: api_url must be https
// (an override of the registry may be http: the fakes).
func (c *Connector) base(cfg connectors.Config) (*url.URL, error) {
	if c.override != nil {
		u := *c.override
		return &u, nil
	}
	u, err := url.Parse(cfg.Setting("api_url"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "api_url must be an https URL without credentials, query or fragment"}
	}
	return u, nil
}

func (c *Connector) request(ctx context.Context, cfg connectors.Config, method, resource string, q url.Values, body any) (*http.Request, error) {
	company := cfg.Setting("company_id")
	if !companyIDRe.MatchString(company) {
		return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "company_id: letters, digits, '-' or '_'"}
	}
	u, err := c.base(cfg)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/companies('" + company + "')" + resource
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "unencodable body"}
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "building the request"}
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Secret("api_key"))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// Company is the answer of GET /companies('{id}').
type Company struct {
	ID          string `json:"id"`
	RaisonSoc   string `json:"raisonSociale"`
	Application string `json:"application"`
}

// Check implements connectors.Connector: the key must open the company.
func (c *Connector) Check(ctx context.Context, cfg connectors.Config) error {
	req, err := c.request(ctx, cfg, http.MethodGet, "", nil, nil)
	if err != nil {
		return err
	}
	var co Company
	if err := connectors.DoJSON(ctx, c.client, req, &co); err != nil {
		var e *connectors.Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound {
			return &connectors.Error{Kind: connectors.KindAuth, Status: e.Status, Msg: "no such company for this key"}
		}
		return err
	}
	if co.ID != cfg.Setting("company_id") {
		return &connectors.Error{Kind: connectors.KindAuth, Msg: "the key opens another company"}
	}
	return nil
}

// Adresse is an address at Sage.
type Adresse struct {
	Adresse    string `json:"adresse"`
	Complement string `json:"complement"`
	CodePostal string `json:"codePostal"`
	Ville      string `json:"ville"`
}

// Tiers is a third party (client, supplier, ...) at Sage.
type Tiers struct {
	ID               string  `json:"id"`
	Numero           string  `json:"numero"`
	Intitule         string  `json:"intitule"`
	Type             string  `json:"type"`
	Email            string  `json:"email"`
	Telephone        string  `json:"telephone"`
	Siret            string  `json:"siret"`
	Adresse          Adresse `json:"adresse"`
	DateModification string  `json:"dateModification"`
}

// Affaire is a business (a job, a site) at Sage: the analytic code its
// documents carry.
type Affaire struct {
	ID               string  `json:"id"`
	Code             string  `json:"code"`
	Intitule         string  `json:"intitule"`
	TiersNumero      string  `json:"tiersNumero"`
	TiersIntitule    string  `json:"tiersIntitule"`
	Sommeil          bool    `json:"sommeil"`
	Adresse          Adresse `json:"adresse"`
	DateDebut        *string `json:"dateDebut"`
	DateFin          *string `json:"dateFin"`
	DateModification string  `json:"dateModification"`
}

// cursor is where the import of one resource stands: the modification date
// and key of the last record read.
type cursor struct {
	T string `json:"t,omitempty"`
	K string `json:"k,omitempty"`
}

// state is the connector's checkpoint: the resource being read and the
// cursor of each.
type state struct {
	Stream   string `json:"stream"`
	Tiers    cursor `json:"tiers"`
	Affaires cursor `json:"affaires"`
}

// streams are the resources read, in order.
var streams = []string{"tiers", "affaires"}

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// keysetFilter selects what follows cur in (dateModification, key) order.
func keysetFilter(key string, cur cursor) string {
	if cur.T == "" {
		return ""
	}
	return fmt.Sprintf("(dateModification gt %s or (dateModification eq %s and %s gt %s))", cur.T, cur.T, key, odataString(cur.K))
}

type page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// Sync implements connectors.Connector: one page of tiers (clients), then
// of affaires, after the checkpoint.
func (c *Connector) Sync(ctx context.Context, cfg connectors.Config, st connectors.State) (connectors.Result, connectors.State, error) {
	var cur state
	if len(st) > 0 {
		if err := json.Unmarshal(st, &cur); err != nil {
			return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "unreadable checkpoint"}
		}
	}
	if cur.Stream == "" {
		cur.Stream = streams[0]
	}
	var res connectors.Result
	var full bool
	var err error
	switch cur.Stream {
	case "tiers":
		res.Records, full, err = c.readTiers(ctx, cfg, &cur.Tiers)
	case "affaires":
		res.Records, full, err = c.readAffaires(ctx, cfg, &cur.Affaires)
	default:
		return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "unreadable checkpoint"}
	}
	if err != nil {
		return connectors.Result{}, nil, err
	}
	res.More = true
	if !full { // this resource is read: the next one, or the end
		if cur.Stream == streams[len(streams)-1] {
			cur.Stream, res.More = "", false
		} else {
			cur.Stream = "affaires"
		}
	}
	b, _ := json.Marshal(cur)
	return res, b, nil
}

func (c *Connector) list(ctx context.Context, cfg connectors.Config, resource, key, typeFilter string, cur cursor, out any) error {
	filters := []string{}
	if typeFilter != "" {
		filters = append(filters, typeFilter)
	}
	if f := keysetFilter(key, cur); f != "" {
		filters = append(filters, f)
	}
	q := url.Values{"$orderby": {"dateModification," + key}, "$top": {strconv.Itoa(PageSize)}}
	if len(filters) > 0 {
		q.Set("$filter", strings.Join(filters, " and "))
	}
	req, err := c.request(ctx, cfg, http.MethodGet, "/"+resource, q, nil)
	if err != nil {
		return err
	}
	return connectors.DoJSON(ctx, c.client, req, out)
}

// advance moves cur past a record, checking that the vendor answers in
// order (a record out of order would make the checkpoint skip others).
func advance(cur *cursor, t, k string) error {
	at, err := time.Parse(time.RFC3339, t)
	if err != nil || k == "" {
		return &connectors.Error{Kind: connectors.KindMalformed, Msg: "a record has no key or modification date"}
	}
	if cur.T != "" {
		prev, _ := time.Parse(time.RFC3339, cur.T)
		if at.Before(prev) || (at.Equal(prev) && k <= cur.K) {
			return &connectors.Error{Kind: connectors.KindMalformed, Msg: "records out of order"}
		}
	}
	cur.T, cur.K = at.UTC().Format(time.RFC3339Nano), k
	return nil
}

func (c *Connector) readTiers(ctx context.Context, cfg connectors.Config, cur *cursor) ([]connectors.Record, bool, error) {
	var p page[Tiers]
	if err := c.list(ctx, cfg, "tiers", "numero", "type eq 'Client'", *cur, &p); err != nil {
		return nil, false, err
	}
	recs := make([]connectors.Record, 0, len(p.Value))
	for _, t := range p.Value {
		if err := advance(cur, t.DateModification, t.Numero); err != nil {
			return nil, false, err
		}
		recs = append(recs, connectors.Record{Stream: "clients", ID: t.Numero, Data: clientOf(t)})
	}
	return recs, len(p.Value) == PageSize || p.NextLink != "", nil
}

func (c *Connector) readAffaires(ctx context.Context, cfg connectors.Config, cur *cursor) ([]connectors.Record, bool, error) {
	var p page[Affaire]
	if err := c.list(ctx, cfg, "affaires", "code", "", *cur, &p); err != nil {
		return nil, false, err
	}
	recs := make([]connectors.Record, 0, len(p.Value))
	for _, a := range p.Value {
		if err := advance(cur, a.DateModification, a.Code); err != nil {
			return nil, false, err
		}
		recs = append(recs, connectors.Record{Stream: "chantiers", ID: a.Code, Data: chantierOf(a)})
	}
	return recs, len(p.Value) == PageSize || p.NextLink != "", nil
}

var (
	digits5   = regexp.MustCompile(`^[0-9]{5}$`)
	phoneRe   = regexp.MustCompile(`^\+?[0-9 .()-]{4,30}$`)
	emailRe   = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	codeRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$`)
	clientRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)
	nonDigits = regexp.MustCompile(`[^0-9]`)
)

// keep returns s when it matches re, else "" (a value the product would
// refuse is left out rather than failing the record).
func keep(re *regexp.Regexp, s string) string {
	s = strings.TrimSpace(s)
	if re.MatchString(s) {
		return s
	}
	return ""
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// clientOf is the product's client input for a tiers.
func clientOf(t Tiers) json.RawMessage {
	m := map[string]any{
		"code": keep(clientRe, t.Numero), "nom": clip(t.Intitule, 200), "email": keep(emailRe, t.Email),
		"telephone": keep(phoneRe, t.Telephone), "adresse": clip(strings.TrimSpace(t.Adresse.Adresse+" "+t.Adresse.Complement), 300),
		"code_postal": keep(digits5, t.Adresse.CodePostal), "ville": clip(t.Adresse.Ville, 100),
		"external_source": Type, "external_id": clip(t.Numero, 128),
	}
	if s := nonDigits.ReplaceAllString(t.Siret, ""); len(s) == 14 {
		m["siret"] = s
	}
	if m["nom"] == "" {
		m["nom"] = t.Numero
	}
	b, _ := json.Marshal(m)
	return b
}

// chantierOf is the product's chantier input for an affaire (members the
// product keeps on its own, like the responsable or the budget, are left
// out: an update does not reset them).
func chantierOf(a Affaire) json.RawMessage {
	adr := clip(strings.TrimSpace(a.Adresse.Adresse+" "+a.Adresse.Complement), 300)
	if adr == "" {
		adr = "Adresse non renseignée"
	}
	m := map[string]any{
		"code": keep(codeRe, a.Code), "nom": clip(a.Intitule, 200), "adresse": adr, "ville": clip(a.Adresse.Ville, 100),
		"code_postal": keep(digits5, a.Adresse.CodePostal), "client_nom": clip(a.TiersIntitule, 200),
	}
	if m["nom"] == "" {
		m["nom"] = a.Code
	}
	for k, v := range map[string]*string{"date_debut": a.DateDebut, "date_fin": a.DateFin} {
		if v != nil && len(*v) >= 10 {
			m[k] = (*v)[:10]
		}
	}
	if a.Sommeil {
		m["statut"] = "ferme"
	}
	b, _ := json.Marshal(m)
	return b
}

// HandleEvent implements connectors.Connector: nothing is pushed per event
// (invoices go by Export).
func (c *Connector) HandleEvent(context.Context, connectors.Config, connectors.Event) error {
	return nil
}

// FactureItem is one item of a "factures" export: the validated work of a
// chantier for a client over the period. Refs are the vendor's (empty when
// the chantier or client did not come from Sage).
type FactureItem struct {
	ChantierID   int64  `json:"chantier_id"`
	ChantierCode string `json:"chantier_code"`
	ChantierNom  string `json:"chantier_nom"`
	AffaireCode  string `json:"affaire_code"`
	ClientID     *int64 `json:"client_id"`
	TiersNumero  string `json:"tiers_numero"`
	Minutes      int64  `json:"minutes"`
}

// DocumentVente is a sales document at Sage (a Facture here).
type DocumentVente struct {
	ID          string       `json:"id,omitempty"`
	Numero      string       `json:"numero,omitempty"`
	Type        string       `json:"type"`
	Date        string       `json:"date"`
	Reference   string       `json:"reference"`
	TiersNumero string       `json:"tiersNumero"`
	AffaireCode string       `json:"affaireCode,omitempty"`
	Lignes      []LigneVente `json:"lignes"`
	TotalHT     float64      `json:"totalHT"`
	TotalTVA    float64      `json:"totalTVA"`
	TotalTTC    float64      `json:"totalTTC"`
}

// LigneVente is a line of a sales document.
type LigneVente struct {
	Designation  string  `json:"designation"`
	Quantite     float64 `json:"quantite"`
	PrixUnitaire float64 `json:"prixUnitaire"`
	MontantHT    float64 `json:"montantHT"`
}

// Reference is the document reference (17 characters at most, Sage's
// limit) an export item's key is stored under at Sage.
func Reference(key string) string {
	h := sha256.Sum256([]byte(key))
	return "HC" + strings.ToUpper(hex.EncodeToString(h[:]))[:15]
}

func settingInt(cfg connectors.Config, name string, def, maxV int64) (int64, error) {
	s := cfg.Setting(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > maxV {
		return 0, &connectors.Error{Kind: connectors.KindRejected, Msg: name + ": a whole number from 0 to " + strconv.FormatInt(maxV, 10)}
	}
	return n, nil
}

func euros(cents int64) float64 { return float64(cents) / 100 }

// Export implements connectors.Exporter (kind "factures"): one sales
// invoice per item, created or, when its reference exists, updated.
func (c *Connector) Export(ctx context.Context, cfg connectors.Config, req connectors.ExportRequest) ([]connectors.Record, error) {
	if req.Kind != "factures" {
		return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "sage100 exports factures only"}
	}
	rate, err := settingInt(cfg, "taux_horaire_cents", DefaultHourlyRateCents, 10_000_000)
	if err != nil {
		return nil, err
	}
	vat, err := settingInt(cfg, "taux_tva_pour_mille", DefaultVATPerMille, 1000)
	if err != nil {
		return nil, err
	}
	period := req.From.Format("02/01/2006") + " au " + req.To.Format("02/01/2006")
	out := make([]connectors.Record, 0, len(req.Items))
	for _, it := range req.Items {
		var f FactureItem
		if err := json.Unmarshal(it.Data, &f); err != nil || f.Minutes <= 0 || f.ChantierID <= 0 {
			return nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "an export item is not a facture item"}
		}
		if f.TiersNumero == "" {
			return nil, &connectors.Error{Kind: connectors.KindRejected,
				Msg: fmt.Sprintf("chantier %s has no Sage client: import its affaire first", f.ChantierCode)}
		}
		ht := int64(math.Round(float64(f.Minutes) * float64(rate) / 60))
		tva := int64(math.Round(float64(ht) * float64(vat) / 1000))
		hours := math.Round(float64(f.Minutes)/60*100) / 100
		doc := DocumentVente{Type: "Facture", Date: req.To.Format("2006-01-02"), Reference: Reference(it.Key), TiersNumero: f.TiersNumero,
			AffaireCode: f.AffaireCode, TotalHT: euros(ht), TotalTVA: euros(tva), TotalTTC: euros(ht + tva),
			Lignes: []LigneVente{{Designation: clip("Main d'œuvre "+f.ChantierNom+" du "+period, 69), Quantite: hours,
				PrixUnitaire: euros(rate), MontantHT: euros(ht)}}}
		saved, err := c.saveDocument(ctx, cfg, doc)
		if err != nil {
			return nil, err
		}
		data, _ := json.Marshal(map[string]any{
			"numero": saved.Numero, "chantier_id": f.ChantierID, "client_id": f.ClientID,
			"periode_debut": req.From.Format("2006-01-02"), "periode_fin": req.To.Format("2006-01-02"),
			"date_emission": doc.Date, "libelle": doc.Lignes[0].Designation, "montant_ht_cents": ht, "tva_cents": tva,
			"statut": "emise", "external_source": Type, "external_id": saved.Numero,
		})
		out = append(out, connectors.Record{Stream: "factures", ID: it.Key, Data: data})
	}
	return out, nil
}

// saveDocument creates doc at Sage, or updates the document that already
// carries its reference (an export run again).
func (c *Connector) saveDocument(ctx context.Context, cfg connectors.Config, doc DocumentVente) (*DocumentVente, error) {
	q := url.Values{"$filter": {"type eq 'Facture' and reference eq " + odataString(doc.Reference)}, "$top": {"1"}}
	req, err := c.request(ctx, cfg, http.MethodGet, "/documentsVente", q, nil)
	if err != nil {
		return nil, err
	}
	var found page[DocumentVente]
	if err := connectors.DoJSON(ctx, c.client, req, &found); err != nil {
		return nil, err
	}
	method, path := http.MethodPost, "/documentsVente"
	if len(found.Value) > 0 {
		method, path = http.MethodPatch, "/documentsVente("+odataString(found.Value[0].ID)+")"
	}
	req, err = c.request(ctx, cfg, method, path, nil, doc)
	if err != nil {
		return nil, err
	}
	var saved DocumentVente
	if err := connectors.DoJSON(ctx, c.client, req, &saved); err != nil {
		return nil, err
	}
	if saved.Numero == "" {
		return nil, &connectors.Error{Kind: connectors.KindMalformed, Msg: "the saved document has no numero"}
	}
	return &saved, nil
}
