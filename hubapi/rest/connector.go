package rest

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
)

var (
	connectorSchema = fields.MustSchema(
		fields.F("id"), fields.F("user_id"), fields.F("type"), fields.F("name"), fields.F("enabled"),
		fields.F("last_sync_at"), fields.F("sync_status"), fields.F("error_message"),
		fields.F("created_at"), fields.F("updated_at"), fields.F("version"), fields.F("config"),
	)
	syncLogSchema = fields.MustSchema(
		fields.F("id"), fields.F("connector_id"), fields.F("started_at"), fields.F("completed_at"), fields.F("status"),
		fields.F("records_synced"), fields.F("error_details"), fields.F("state_checkpoint"), fields.F("attempt"),
	)
	connectorDTO = newDTO([]string{"id", "user_id", "type", "name", "enabled", "last_sync_at", "sync_status", "error_message",
		"created_at", "updated_at", "version", "config"}, nil, nil)
	connectorInputDTO = newDTO([]string{"type", "name", "enabled", "settings", "secrets"}, nil, nil)
	syncLogDTO        = newDTO([]string{"id", "connector_id", "started_at", "completed_at", "status", "records_synced",
		"error_details", "state_checkpoint", "attempt"}, nil, nil)
)

// mountConnectors adds the connector routes (v1 only): admins, or the
// owning user, with the webhooks:manage scope (integrations).
func (a *API) mountConnectors(route func(method, path string, scope hubapi.Scope, h http.HandlerFunc)) {
	s := a.o.Connectors
	sc := hubapi.ScopeWebhooksManage
	ptr := func(v int64) *int64 {
		if v == 0 {
			return nil
		}
		return &v
	}
	res := &resource[hubapi.Connector, hubapi.ConnectorInput]{name: "integrations/connectors",
		get: withoutSelection(s.GetConnector),
		update: func(ctx context.Context, id int64, in hubapi.ConnectorInput, ifVersion int64) (*hubapi.Connector, error) {
			return s.ReplaceConnector(ctx, id, in, ptr(ifVersion))
		},
		remove: func(ctx context.Context, id int64, ifVersion int64) error {
			return s.DeleteConnector(ctx, id, ptr(ifVersion))
		},
		id:      func(m *hubapi.Connector) int64 { return m.ID },
		version: func(m *hubapi.Connector) int64 { return m.Version },
		updated: func(m *hubapi.Connector) time.Time { return m.UpdatedAt },
		schema:  connectorSchema, schemaV2: connectorSchema, dto: connectorDTO,
	}
	list := &lister[hubapi.Connector, hubapi.ConnectorFilter]{
		schema: connectorSchema, schemaV2: connectorSchema, dto: connectorDTO, filters: []string{"user_id", "type"},
		filter: func(q *query) hubapi.ConnectorFilter {
			return hubapi.ConnectorFilter{UserID: q.int64("user_id", true), Type: q.get("type")}
		},
		list: func(ctx context.Context, f hubapi.ConnectorFilter, pr hubapi.PageRequest, _ *fields.Selection) (*hubapi.Page[hubapi.Connector], error) {
			pg, err := s.ListConnectors(ctx, f, pr)
			return &pg, err
		},
		// The list shows the sync state, which changes without a new version.
		key: func(b []byte, c *hubapi.Connector, _ *fields.Selection) []byte {
			at := int64(0)
			if c.LastSyncAt != nil {
				at = c.LastSyncAt.UnixMicro()
			}
			return append(b, strconv.FormatInt(c.ID, 10)+":"+strconv.FormatInt(c.Version, 10)+":"+c.SyncStatus+":"+strconv.FormatInt(at, 10)+";"...)
		},
	}
	route(http.MethodGet, "/integrations/connectors", sc, list.handle(a))
	route(http.MethodPost, "/integrations/connectors", sc, a.handler(a.createConnector))
	route(http.MethodGet, "/integrations/connectors/{id}", sc, a.handler(func(w http.ResponseWriter, r *http.Request) error {
		// The configuration is shown masked; never cached.
		w.Header().Set("Cache-Control", "no-store")
		res.handleGet(a).ServeHTTP(w, r)
		return nil
	}))
	route(http.MethodPut, "/integrations/connectors/{id}", sc, res.handlePut(a))
	route(http.MethodDelete, "/integrations/connectors/{id}", sc, res.handleDelete(a))
	route(http.MethodPost, "/integrations/connectors/{id}/check", sc, a.handler(a.checkConnector))
	route(http.MethodPost, "/integrations/connectors/{id}/sync", sc, a.handler(a.syncConnector))
	route(http.MethodGet, "/integrations/connectors/{id}/sync-logs", sc, a.handler(a.listSyncLogs))
}

func (a *API) createConnector(w http.ResponseWriter, r *http.Request) error {
	in, err := decodeInput[hubapi.ConnectorInput](w, r, connectorInputDTO)
	if err != nil {
		return err
	}
	c, err := a.o.Connectors.CreateConnector(r.Context(), in)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Location", a.base+"/integrations/connectors/"+strconv.FormatInt(c.ID, 10))
	h.Set("Cache-Control", "no-store")
	h.Set("ETag", etag.VersionTag(c.Version).String())
	h.Set("Last-Modified", c.UpdatedAt.UTC().Format(http.TimeFormat))
	a.writeJSON(w, r, http.StatusCreated, c, connectorDTO)
	return nil
}

func (a *API) checkConnector(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := newQuery(r).err(); err != nil {
		return err
	}
	res, err := a.o.Connectors.CheckConnector(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusOK, res, nil)
	return nil
}

func (a *API) syncConnector(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q := newQuery(r, "month")
	month := q.get("month")
	if err := q.err(); err != nil {
		return err
	}
	c, err := a.o.Connectors.SyncConnectorMonth(r.Context(), id, month)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusAccepted, c, connectorDTO)
	return nil
}

func (a *API) listSyncLogs(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l := &lister[hubapi.ConnectorSyncLog, int64]{
		schema: syncLogSchema, schemaV2: syncLogSchema, dto: syncLogDTO, filter: func(*query) int64 { return id },
		list: func(ctx context.Context, id int64, pr hubapi.PageRequest, _ *fields.Selection) (*hubapi.Page[hubapi.ConnectorSyncLog], error) {
			pg, err := a.o.Connectors.ListConnectorSyncLogs(ctx, id, pr)
			return &pg, err
		},
		// A log changes while its run goes on.
		key: func(b []byte, l *hubapi.ConnectorSyncLog, _ *fields.Selection) []byte {
			done := int64(0)
			if l.CompletedAt != nil {
				done = l.CompletedAt.UnixMicro()
			}
			return append(b, strconv.FormatInt(l.ID, 10)+":"+l.Status+":"+strconv.FormatInt(l.RecordsSynced, 10)+":"+strconv.FormatInt(done, 10)+";"...)
		},
	}
	l.handle(a).ServeHTTP(w, r)
	return nil
}

// mountConnectorOAuth adds the server side of vendors' OAuth flows.
func (a *API) mountConnectorOAuth(route func(method, path string, scope hubapi.Scope, h http.HandlerFunc)) {
	sc := hubapi.ScopeWebhooksManage
	route(http.MethodGet, "/integrations/{type}/authorize", sc, a.handler(a.authorizeConnector))
	route(http.MethodGet, "/integrations/{type}/callback", sc, a.handler(a.connectorCallback))
}

// connectorType is the connector type of the path: its slug spells the
// type's underscores as dashes (/integrations/google-calendar/callback is
// type google_calendar).
func connectorType(r *http.Request) string {
	return strings.ReplaceAll(mux.Vars(r)["type"], "-", "_")
}

func (a *API) authorizeConnector(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r, "connector_id")
	id := q.int64("connector_id", true)
	if id == 0 && q.get("connector_id") == "" {
		q.fail("connector_id", "required")
	}
	if err := q.err(); err != nil {
		return err
	}
	res, err := a.o.ConnectorOAuth.AuthorizeConnector(r.Context(), connectorType(r), id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusOK, res, nil)
	return nil
}

func (a *API) connectorCallback(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r, "code", "state", "error", "error_description", "realmId")
	code, state, vendorErr := q.get("code"), q.get("state"), q.get("error")
	if vendorErr == "" {
		if code == "" {
			q.fail("code", "required")
		}
		if state == "" {
			q.fail("state", "required")
		}
	}
	if err := q.err(); err != nil {
		return err
	}
	if vendorErr != "" {
		return &hubapi.ValidationError{Fields: map[string]string{"error": "the vendor refused the authorization"}}
	}
	c, err := a.o.ConnectorOAuth.CompleteConnectorAuthorization(r.Context(), connectorType(r), code, state,
		map[string]string{"realmId": q.get("realmId")})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusOK, c, connectorDTO)
	return nil
}
