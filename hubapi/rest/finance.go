package rest

import (
	"net/http"
	"time"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
)

// The accounting resources: /clients, /factures, /depenses (scopes
// finances:read and finances:write), built like the other resources.

func schemaOf(v2 bool, members ...string) *fields.Schema {
	fs := make([]fields.Field, len(members))
	for i, m := range members {
		name := m
		if v2 {
			name = v2Name(m)
		}
		fs[i] = fields.F(name, m)
	}
	return fields.MustSchema(fs...)
}

var (
	clientMembers  = []string{"id", "code", "nom", "email", "telephone", "adresse", "code_postal", "ville", "siret", "external_source", "external_id"}
	factureMembers = []string{"id", "numero", "chantier_id", "client_id", "periode_debut", "periode_fin", "date_emission", "libelle",
		"montant_ht_cents", "tva_cents", "montant_ttc_cents", "statut", "external_source", "external_id"}
	depenseMembers = []string{"id", "chantier_id", "date", "libelle", "fournisseur", "montant_cents", "external_source", "external_id"}

	clientSchema    = schemaOf(false, append(clientMembers, timestamps...)...)
	clientSchemaV2  = schemaOf(true, append(clientMembers, timestamps...)...)
	factureSchema   = schemaOf(false, append(factureMembers, timestamps...)...)
	factureSchemaV2 = schemaOf(true, append(factureMembers, timestamps...)...)
	depenseSchema   = schemaOf(false, append(depenseMembers, timestamps...)...)
	depenseSchemaV2 = schemaOf(true, append(depenseMembers, timestamps...)...)

	clientDTO  = newDTO(append(clientMembers, timestamps...), nil, nil)
	factureDTO = newDTO(append(factureMembers, timestamps...), nil, nil)
	depenseDTO = newDTO(append(depenseMembers, timestamps...), nil, nil)
)

// financeSchemas are the field schemas (v1, v2) of the accounting
// collections, for WideSelection.
var financeSchemas = map[string][2]*fields.Schema{
	"clients": {clientSchema, clientSchemaV2}, "factures": {factureSchema, factureSchemaV2}, "depenses": {depenseSchema, depenseSchemaV2},
}

type crudFunc func(name string, read, write hubapi.Scope, list, get, create, put, patch, del http.HandlerFunc)

// mountFinance adds the routes of the accounting resources whose service
// is set.
func (a *API) mountFinance(crud crudFunc) {
	o := a.o
	if s := o.Clients; s != nil {
		res := &resource[hubapi.Client, hubapi.ClientInput]{name: "clients", get: withoutSelection(s.GetClient),
			create: s.CreateClient, update: s.UpdateClient, patch: s.PatchClient, remove: s.DeleteClient,
			id: func(m *hubapi.Client) int64 { return m.ID }, version: func(m *hubapi.Client) int64 { return m.Version },
			updated: func(m *hubapi.Client) time.Time { return m.UpdatedAt }, schema: clientSchema, schemaV2: clientSchemaV2, dto: clientDTO}
		list := (&lister[hubapi.Client, hubapi.ClientFilter]{
			schema: clientSchema, schemaV2: clientSchemaV2, dto: clientDTO, filters: []string{"ville"},
			filter: func(q *query) hubapi.ClientFilter { return hubapi.ClientFilter{Ville: q.get("ville")} },
			list:   s.ListClients,
			key:    versionKey(func(m *hubapi.Client) (int64, int64) { return m.ID, m.Version }),
		}).handle(a)
		crud("clients", hubapi.ScopeFinancesRead, hubapi.ScopeFinancesWrite, list,
			res.handleGet(a), res.handleCreate(a), res.handlePut(a), res.handlePatch(a), res.handleDelete(a))
	}
	if s := o.Factures; s != nil {
		res := &resource[hubapi.Facture, hubapi.FactureInput]{name: "factures", get: withoutSelection(s.GetFacture),
			create: s.CreateFacture, update: s.UpdateFacture, patch: s.PatchFacture, remove: s.DeleteFacture,
			id: func(m *hubapi.Facture) int64 { return m.ID }, version: func(m *hubapi.Facture) int64 { return m.Version },
			updated: func(m *hubapi.Facture) time.Time { return m.UpdatedAt }, schema: factureSchema, schemaV2: factureSchemaV2, dto: factureDTO}
		list := (&lister[hubapi.Facture, hubapi.FactureFilter]{
			schema: factureSchema, schemaV2: factureSchemaV2, dto: factureDTO, filters: []string{"chantier_id", "client_id", "statut"},
			filter: func(q *query) hubapi.FactureFilter {
				return hubapi.FactureFilter{ChantierID: q.int64("chantier_id", true), ClientID: q.int64("client_id", true),
					Statut: enumParam(q, "statut", hubapi.FactureStatuts)}
			},
			list: s.ListFactures,
			key:  versionKey(func(m *hubapi.Facture) (int64, int64) { return m.ID, m.Version }),
		}).handle(a)
		crud("factures", hubapi.ScopeFinancesRead, hubapi.ScopeFinancesWrite, list,
			res.handleGet(a), res.handleCreate(a), res.handlePut(a), res.handlePatch(a), res.handleDelete(a))
	}
	if s := o.Depenses; s != nil {
		res := &resource[hubapi.Depense, hubapi.DepenseInput]{name: "depenses", get: withoutSelection(s.GetDepense),
			create: s.CreateDepense, update: s.UpdateDepense, patch: s.PatchDepense, remove: s.DeleteDepense,
			id: func(m *hubapi.Depense) int64 { return m.ID }, version: func(m *hubapi.Depense) int64 { return m.Version },
			updated: func(m *hubapi.Depense) time.Time { return m.UpdatedAt }, schema: depenseSchema, schemaV2: depenseSchemaV2, dto: depenseDTO}
		list := (&lister[hubapi.Depense, hubapi.DepenseFilter]{
			schema: depenseSchema, schemaV2: depenseSchemaV2, dto: depenseDTO, filters: []string{"chantier_id", "date_from", "date_to"},
			filter: func(q *query) hubapi.DepenseFilter {
				return hubapi.DepenseFilter{ChantierID: q.int64("chantier_id", true), From: q.date("date_from"), To: q.date("date_to")}
			},
			list: s.ListDepenses,
			key:  versionKey(func(m *hubapi.Depense) (int64, int64) { return m.ID, m.Version }),
		}).handle(a)
		crud("depenses", hubapi.ScopeFinancesRead, hubapi.ScopeFinancesWrite, list,
			res.handleGet(a), res.handleCreate(a), res.handlePut(a), res.handlePatch(a), res.handleDelete(a))
	}
}

// exportConnector runs an export through a connector (v1 only, with the
// connector routes): POST /integrations/connectors/{id}/export.
func (a *API) exportConnector(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newQuery(r).err(); err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in hubapi.ConnectorExportInput
	if err := decodeStrict(body, &in); err != nil {
		return err
	}
	res, err := a.o.ConnectorExports.ExportConnector(r.Context(), id, in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusOK, res, nil)
	return nil
}
