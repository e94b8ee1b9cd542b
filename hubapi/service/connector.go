package service

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/silae"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// ConnectorQueue schedules a connector's sync in the transaction that asks
// for it; it reports false when a sync is already queued or running (the
// request joins it). hubapi/jobs implements it with a unique River job.
type ConnectorQueue interface {
	EnqueueConnectorSync(ctx context.Context, tx bun.Tx, id int64) (bool, error)
}

// ConnectorDeps is what the connector use cases need.
type ConnectorDeps struct {
	Registry *connectors.Registry
	// Sealer seals configurations (HUB_CONNECTOR_KEYS).
	Sealer *connectors.Sealer
	// Queue runs syncs (nil: POST .../sync answers 503).
	Queue ConnectorQueue
	// Runner runs checks (call timeout); Options builds connectors.
	Runner  *connectors.Runner
	Options func(typ string) connectors.Options
	// OAuthClients are the server's OAuth clients by connector type (the
	// types whose Spec has OAuth); HTTPClient, when set, sends the code
	// exchanges.
	OAuthClients map[string]ConnectorOAuthClient
	HTTPClient   *http.Client
	// Access, when set, hands OAuth connectors their access token for the
	// check.
	Access *ConnectorAccess
	// Tokens gives the OAuth tokens of connectors of type typ (nil: the
	// type has no OAuth flow here); checks run with them.
	Tokens func(typ string) *connectors.Tokens
}

// WithConnectors enables the connector use cases.
func WithConnectors(c ConnectorDeps) Option {
	return func(d *deps) {
		if c.Runner == nil {
			c.Runner = connectors.NewRunner(connectors.RunnerConfig{})
		}
		if c.Options == nil {
			c.Options = func(string) connectors.Options { return connectors.Options{} }
		}
		d.connectors = &c
	}
}

var connectorRows = rowKind[hubapi.Connector]{hubapi.ResourceConnectors, connectorRow,
	func(c *hubapi.Connector) int64 { return c.Version }}

// connectorRow is what the permission rules see of a connector: it
// belongs to its user.
func connectorRow(c *hubapi.Connector) *hubapi.Row { return &hubapi.Row{Owner: c.UserID} }

// ConnectorBinding binds a connector's sealed configuration to its row (the
// same binding as hubapi/jobs.ConnectorConfigBinding).
func ConnectorBinding(id int64) string { return strconv.FormatInt(id, 10) }

// errNoConnectors is returned when the server runs without connectors.
var errNoConnectors = hubapi.Errorf(hubapi.ErrUnavailable, "connectors are not configured on this server")

func (s *deps) conn() (*ConnectorDeps, error) {
	if s.connectors == nil {
		return nil, errNoConnectors
	}
	return s.connectors, nil
}

// keyError turns a configuration that does not open into a clear error
// for the client (503: the server's keys must be fixed), naming the key
// id, never any content.
func keyError(err error) error {
	if errors.Is(err, connectors.ErrKey) {
		_, why, _ := strings.Cut(err.Error(), connectors.ErrKey.Error()+": ")
		return hubapi.Errorf(hubapi.ErrKeys, "the connector's configuration does not open with the server's keys (%s): %s", connectors.EnvKeys, why)
	}
	return err
}

// auditView is a connector as its audit events show it: the configuration
// with every secret replaced by the mask alone.
func auditView(c *hubapi.Connector, cfg *connectors.Config) map[string]any {
	v := map[string]any{"id": c.ID, "user_id": c.UserID, "type": c.Type, "name": c.Name, "enabled": c.Enabled, "version": c.Version}
	if cfg != nil {
		secrets := make(map[string]string, len(cfg.Secrets))
		for k := range cfg.Secrets {
			secrets[k] = connectors.Mask
		}
		v["config"] = map[string]any{"settings": maps.Clone(cfg.Settings), "secrets": secrets}
	}
	return v
}

// showConfig sets the masked configuration on c.
func showConfig(c *hubapi.Connector, cfg connectors.Config) {
	m := cfg.Masked()
	view := &hubapi.ConnectorConfigView{Settings: map[string]string{}, Secrets: map[string]string{}}
	for k := range cfg.Settings {
		view.Settings[k] = m[k]
	}
	for k := range cfg.Secrets {
		view.Secrets[k] = m[k]
	}
	c.Config = view
}

// checkConnectorInput validates in against the type's spec; field names
// of the configuration are reported as settings.<name> and secrets.<name>.
func checkConnectorInput(cd *ConnectorDeps, in *hubapi.ConnectorInput, cfg connectors.Config) (connectors.Spec, error) {
	v := map[string]string{}
	in.Name = strings.TrimSpace(in.Name)
	switch n := utf8.RuneCountInString(in.Name); {
	case n == 0:
		v["name"] = "required"
	case n > hubapi.MaxConnectorName:
		v["name"] = "at most " + strconv.Itoa(hubapi.MaxConnectorName) + " characters"
	case !utf8.ValidString(in.Name) || strings.ContainsRune(in.Name, 0):
		v["name"] = "must be UTF-8 text without NUL"
	}
	spec, ok := cd.Registry.Spec(in.Type)
	if !ok {
		v["type"] = "unknown connector type; known: " + strings.Join(cd.Registry.Types(), ", ")
	} else {
		var ve *connectors.ValidationError
		if err := spec.Validate(cfg); errors.As(err, &ve) {
			maps.Copy(v, ve.Fields)
		} else if err != nil {
			return spec, err
		}
	}
	if len(v) > 0 {
		return spec, &hubapi.ValidationError{Fields: v}
	}
	return spec, nil
}

// CreateConnector implements hubapi.ConnectorService. The connector
// belongs to in.UserID when set (admins), to the caller otherwise.
func (s *Service) CreateConnector(ctx context.Context, in hubapi.ConnectorInput) (*hubapi.Connector, error) {
	p, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionCreate)
	if err != nil {
		return nil, err
	}
	cd, err := s.conn()
	if err != nil {
		return nil, err
	}
	if in.UserID == 0 {
		in.UserID = p.UserID
	}
	if err := hubapi.Can(p, hubapi.ResourceConnectors, hubapi.ActionCreate, &hubapi.Row{Owner: in.UserID}); err != nil {
		return nil, err
	}
	cfg := connectors.Config{Settings: maps.Clone(in.Settings), Secrets: maps.Clone(in.Secrets)}
	if _, err := checkConnectorInput(cd, &in, cfg); err != nil {
		return nil, err
	}
	now := s.now()
	c := &hubapi.Connector{UserID: in.UserID, Type: in.Type, Name: in.Name, Enabled: in.Enabled == nil || *in.Enabled,
		ConfigKeyID: "-", ConfigSealed: []byte{}, SyncStatus: hubapi.SyncNever, CreatedAt: now, UpdatedAt: now, Version: 1}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := checkConnectorOwner(ctx, tx, in.UserID); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, c); err != nil {
			return err
		}
		// The sealed configuration is bound to the row's id, known only now.
		if c.ConfigKeyID, c.ConfigSealed, err = cd.Sealer.Seal(cfg, ConnectorBinding(c.ID)); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model(c).Column("config_key_id", "config_sealed").WherePK().Exec(ctx); err != nil {
			return err
		}
		s.recordChange(ctx, "create_connector", "connectors", c.ID, auditView(c, &cfg))
		return nil
	})
	if err != nil {
		return nil, err
	}
	showConfig(c, cfg)
	return c, nil
}

// checkConnectorOwner reports a field error unless user id exists and its
// role may hold connectors.
func checkConnectorOwner(ctx context.Context, db bun.IDB, id int64) error {
	u, err := store.Get[hubapi.User](ctx, db, id)
	if errors.Is(err, hubapi.ErrNotFound) {
		return &hubapi.ValidationError{Fields: map[string]string{"user_id": "does not exist"}}
	}
	if err != nil {
		return err
	}
	if !hubapi.RoleAllows(u.Role, hubapi.ScopeWebhooksManage) {
		return &hubapi.ValidationError{Fields: map[string]string{"user_id": "a " + string(u.Role) + " may not own connectors"}}
	}
	return nil
}

// readConnector loads connector id if p may do a on it (another user's
// reads as absent).
func (s *Service) readConnector(ctx context.Context, db bun.IDB, p *hubapi.Principal, a hubapi.Action, id int64) (*hubapi.Connector, error) {
	c, err := store.Get[hubapi.Connector](ctx, db, id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourceConnectors, hubapi.ActionRead, connectorRow(c)); err != nil {
		return nil, hubapi.ErrNotFound
	}
	if err := hubapi.Can(p, hubapi.ResourceConnectors, a, connectorRow(c)); err != nil {
		return nil, err
	}
	return c, nil
}

// openConnector checks that the caller may perform a on connector id,
// reads it and opens its configuration.
func (s *Service) openConnector(ctx context.Context, a hubapi.Action, id int64) (*ConnectorDeps, *hubapi.Connector, connectors.Config, error) {
	p, err := allow(ctx, hubapi.ResourceConnectors, a)
	if err != nil {
		return nil, nil, connectors.Config{}, err
	}
	cd, err := s.conn()
	if err != nil {
		return nil, nil, connectors.Config{}, err
	}
	c, err := s.readConnector(ctx, s.db, p, a, id)
	if err != nil {
		return nil, nil, connectors.Config{}, err
	}
	cfg, err := cd.Sealer.Open(c.ConfigKeyID, c.ConfigSealed, ConnectorBinding(id))
	if err != nil {
		return nil, nil, connectors.Config{}, keyError(err)
	}
	return cd, c, cfg, nil
}

// GetConnector implements hubapi.ConnectorService: the read of the
// (masked) configuration is recorded in the audit trail before the answer.
func (s *Service) GetConnector(ctx context.Context, id int64) (*hubapi.Connector, error) {
	_, c, cfg, err := s.openConnector(ctx, hubapi.ActionRead, id)
	if err != nil {
		return nil, err
	}
	if s.audit != nil {
		ev := audit.NewAccess(ctx, "read_connector_config", "connectors", strconv.FormatInt(id, 10), auditView(c, &cfg))
		if err := s.audit.Append(ctx, s.audit.DB(), ev); err != nil {
			return nil, err
		}
	}
	showConfig(c, cfg)
	return c, nil
}

// ListConnectors implements hubapi.ConnectorService: newest first, without
// configurations; a caller who is not an admin lists only their own.
func (s *Service) ListConnectors(ctx context.Context, f hubapi.ConnectorFilter, pr hubapi.PageRequest) (hubapi.Page[hubapi.Connector], error) {
	p, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionRead)
	if err != nil {
		return hubapi.Page[hubapi.Connector]{}, err
	}
	var visible bool
	f.UserID, visible = ownScope(p, hubapi.ResourceConnectors, f.UserID)
	query := func() *bun.SelectQuery {
		q := s.db.NewSelect().Model((*hubapi.Connector)(nil))
		switch {
		case !visible:
			q = q.Where("1 = 0")
		case f.UserID != 0:
			q = q.Where("?TableAlias.user_id = ?", f.UserID)
		}
		if f.Type != "" {
			q = q.Where("?TableAlias.type = ?", f.Type)
		}
		return q
	}
	pg, err := page(ctx, listing[hubapi.Connector]{pager: s.pages.connectors, filter: f, query: query(),
		count: func() (int, error) { return countOf(ctx, query()) }}, pr, nil)
	if err != nil {
		return hubapi.Page[hubapi.Connector]{}, err
	}
	return *pg, nil
}

// ReplaceConnector implements hubapi.ConnectorService (PUT): name,
// enabled and settings are replaced; each secret is replaced when given,
// kept when absent, "" or its masked form. The type does not change. A
// configuration that does not open is never overwritten.
func (s *Service) ReplaceConnector(ctx context.Context, id int64, in hubapi.ConnectorInput, ifVersion *int64) (*hubapi.Connector, error) {
	p, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	cd, err := s.conn()
	if err != nil {
		return nil, err
	}
	var out *hubapi.Connector
	var shown connectors.Config
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := connectorRows.lock(ctx, tx, p, hubapi.ActionChange, id, versionOf(ifVersion))
		if err != nil {
			return err
		}
		old, err := cd.Sealer.Open(cur.ConfigKeyID, cur.ConfigSealed, ConnectorBinding(id))
		if err != nil {
			return keyError(err)
		}
		if in.Type != "" && in.Type != cur.Type {
			return &hubapi.ValidationError{Fields: map[string]string{"type": "cannot change; create another connector"}}
		}
		in.Type = cur.Type
		next := connectors.Config{Settings: maps.Clone(in.Settings), Secrets: maps.Clone(old.Secrets)}.
			Merge(connectors.Config{Secrets: in.Secrets}, nil)
		if next.Settings == nil {
			next.Settings = map[string]string{}
		}
		if _, err := checkConnectorInput(cd, &in, next); err != nil {
			return err
		}
		before := auditView(cur, &old)
		if cur.ConfigKeyID, cur.ConfigSealed, err = cd.Sealer.Seal(next, ConnectorBinding(id)); err != nil {
			return err
		}
		version := cur.Version
		cur.Name = in.Name
		if in.Enabled != nil {
			cur.Enabled = *in.Enabled
		}
		cur.Version, cur.UpdatedAt = version+1, s.now()
		out, shown = cur, next
		s.recordChangeFrom(ctx, "update_connector", "connectors", id, before, auditView(cur, &next))
		return store.UpdateVersioned(ctx, tx, cur, id, version)
	})
	if err != nil {
		return nil, err
	}
	showConfig(out, shown)
	return out, nil
}

// DeleteConnector implements hubapi.ConnectorService; its sync logs and
// records go with it.
func (s *Service) DeleteConnector(ctx context.Context, id int64, ifVersion *int64) error {
	p, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionDelete)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := connectorRows.lock(ctx, tx, p, hubapi.ActionDelete, id, versionOf(ifVersion))
		if err != nil {
			return err
		}
		s.recordChangeFrom(ctx, "delete_connector", "connectors", id, auditView(cur, nil), nil)
		return store.DeleteVersioned[hubapi.Connector](ctx, tx, id, cur.Version)
	})
}

// CheckConnector implements hubapi.ConnectorService: the vendor answers
// with the stored configuration (under the call timeout). A refusal is a
// result (ok false, with why), not an error.
func (s *Service) CheckConnector(ctx context.Context, id int64) (*hubapi.ConnectorCheck, error) {
	cd, c, cfg, err := s.openConnector(ctx, hubapi.ActionChange, id)
	if err != nil {
		return nil, err
	}
	audit.Describe(ctx, "check_connector", "connectors", strconv.FormatInt(id, 10))
	conn, _, err := cd.Registry.New(c.Type, cd.Options(c.Type))
	if err != nil {
		return nil, hubapi.Errorf(hubapi.ErrConflict, "connector type %q is not available on this server", c.Type)
	}
	if cd.Access != nil {
		if cfg, err = cd.Access.Prepare(ctx, id, c.Type, cfg); err != nil {
			e := connectors.AsError(err)
			return &hubapi.ConnectorCheck{OK: false, Kind: string(e.Kind), Error: cfg.Redact(e.Error())}, nil
		}
	}
	if cd.Tokens != nil {
		if t := cd.Tokens(c.Type); t != nil {
			ctx = connectors.WithTokenSource(ctx, t.Source(ConnectorBinding(c.ID)))
		}
	}
	if err := cd.Runner.Check(ctx, conn, cfg); err != nil {
		e := connectors.AsError(err)
		return &hubapi.ConnectorCheck{OK: false, Kind: string(e.Kind), Error: cfg.Redact(e.Error())}, nil
	}
	return &hubapi.ConnectorCheck{OK: true}, nil
}

// PayrollQueue queues payroll exports (jobs.Queue).
type PayrollQueue interface {
	EnqueuePayrollExport(ctx context.Context, tx bun.Tx, id int64, month time.Time) (bool, error)
}

// isPayroll reports the connector types that take a month's export.
func isPayroll(typ string) bool { return typ == silae.Type }

// SyncConnector implements hubapi.ConnectorService: a sync is queued
// unless one is queued or running already (then the request joins it).
// For a payroll connector, a sync is the export of the previous month.
func (s *Service) SyncConnector(ctx context.Context, id int64) (*hubapi.Connector, error) {
	return s.SyncConnectorMonth(ctx, id, "")
}

// SyncConnectorMonth implements hubapi.ConnectorService.
func (s *Service) SyncConnectorMonth(ctx context.Context, id int64, month string) (*hubapi.Connector, error) {
	p, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	cd, err := s.conn()
	if err != nil {
		return nil, err
	}
	if cd.Queue == nil {
		return nil, hubapi.Errorf(hubapi.ErrUnavailable, "connector syncs are not run on this server")
	}
	var out *hubapi.Connector
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		c, err := s.readConnector(ctx, tx, p, hubapi.ActionChange, id)
		if err != nil {
			return err
		}
		if !c.Enabled {
			return hubapi.Errorf(hubapi.ErrConflict, "the connector is disabled")
		}
		var queued bool
		if isPayroll(c.Type) {
			m, err := s.exportMonth(month)
			if err != nil {
				return err
			}
			pq, ok := cd.Queue.(PayrollQueue)
			if !ok {
				return hubapi.Errorf(hubapi.ErrUnavailable, "payroll exports are not run on this server")
			}
			queued, err = pq.EnqueuePayrollExport(ctx, tx, id, m)
			if err != nil {
				return err
			}
		} else if month != "" {
			return &hubapi.ValidationError{Fields: map[string]string{"month": "only payroll connectors export a month"}}
		} else if queued, err = cd.Queue.EnqueueConnectorSync(ctx, tx, id); err != nil {
			return err
		}
		if queued && c.LeaseOwner == nil {
			c.SyncStatus = hubapi.SyncQueued
			if _, err := tx.NewUpdate().Model((*hubapi.Connector)(nil)).Set("sync_status = ?", hubapi.SyncQueued).
				Where("id = ? AND lease_owner IS NULL", id).Exec(ctx); err != nil {
				return err
			}
		}
		audit.Describe(ctx, "sync_connector", "connectors", strconv.FormatInt(id, 10))
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListConnectorSyncLogs implements hubapi.ConnectorService: newest first.
func (s *Service) ListConnectorSyncLogs(ctx context.Context, id int64, pr hubapi.PageRequest) (hubapi.Page[hubapi.ConnectorSyncLog], error) {
	var none hubapi.Page[hubapi.ConnectorSyncLog]
	p, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionRead)
	if err != nil {
		return none, err
	}
	if _, err := s.readConnector(ctx, s.db, p, hubapi.ActionRead, id); err != nil {
		return none, err
	}
	query := func() *bun.SelectQuery {
		return s.db.NewSelect().Model((*hubapi.ConnectorSyncLog)(nil)).Where("?TableAlias.connector_id = ?", id)
	}
	pg, err := page(ctx, listing[hubapi.ConnectorSyncLog]{pager: s.pages.syncLogs,
		filter: struct {
			ConnectorID int64 `json:"connector_id"`
		}{id}, query: query(),
		count: func() (int, error) { return countOf(ctx, query()) }}, pr, nil)
	if err != nil {
		return none, err
	}
	return *pg, nil
}

// recordChangeFrom queues the audit event of a change with an explicit
// before (the masked view, not the row with its sealed configuration).
func (s *deps) recordChangeFrom(ctx context.Context, action, resource string, id int64, before, after any) {
	if s.audit == nil {
		return
	}
	pending, ok := ctx.Value(pendingKey{}).(*pendingEvents)
	if !ok {
		return
	}
	pending.audits = append(pending.audits, audit.NewChange(ctx, action, resource, strconv.FormatInt(id, 10), before, after))
}

// exportMonth reads the month asked of a payroll export, now.
func (s *Service) exportMonth(month string) (time.Time, error) {
	return ParseExportMonth(month, s.now())
}

// ParseExportMonth reads a month to export (YYYY-MM, "": the one before
// now's); a month not yet begun at now is refused (ErrInvalid on month).
func ParseExportMonth(month string, now time.Time) (time.Time, error) {
	now = now.UTC()
	if month == "" {
		return time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, time.UTC), nil
	}
	m, err := time.Parse("2006-01", month)
	if err != nil || m.Year() < 2000 {
		return time.Time{}, &hubapi.ValidationError{Fields: map[string]string{"month": "a month, YYYY-MM"}}
	}
	if m.After(now) {
		return time.Time{}, &hubapi.ValidationError{Fields: map[string]string{"month": "has not begun"}}
	}
	return m, nil
}
