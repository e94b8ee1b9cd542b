package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/quickbooks"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// QuickBooks in the product: the purchases a sync reads become dépenses
// (in the transaction of their checkpoint, so a crash loses or doubles
// none), and after the sync the factures issued or changed since their
// last push become QuickBooks invoices.

// quickBooksSource is the external_source of rows from QuickBooks.
const quickBooksSource = "quickbooks"

// streamInvoices keeps, per QuickBooks invoice id, what its last push
// stored (ids and SyncToken), in connector_records.
const streamInvoices = "invoices"

// importRecords turns the records of one commit into domain rows, for the
// connector types that import (QuickBooks purchases → dépenses): in a few
// statements per page (the chantiers named, the rows already mapped, one
// insert of the new rows and of their references, an update per row
// changed).
func importRecords(ctx context.Context, tx bun.Tx, typ string, connectorID int64, recs []connectors.Record, now time.Time) error {
	if typ != quickbooks.Type {
		return nil
	}
	type item struct {
		vendorID string
		e        quickbooks.Expense
	}
	var items []item
	names := map[string]bool{}
	for _, r := range recs {
		if r.Stream != quickbooks.StreamPurchases {
			continue
		}
		var e quickbooks.Expense
		if err := json.Unmarshal(r.Data, &e); err != nil {
			return &connectors.Error{Kind: connectors.KindMalformed, Msg: "a purchase record does not decode"}
		}
		items = append(items, item{r.ID, e})
		for _, ref := range []*quickbooks.Ref{e.ClassRef, e.CustomerRef} {
			if ref != nil && strings.TrimSpace(ref.Name) != "" {
				names[strings.TrimSpace(ref.Name)] = true
			}
		}
	}
	if len(items) == 0 {
		return nil
	}
	byCode, byNom, err := chantiersNamed(ctx, tx, names)
	if err != nil {
		return err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.vendorID
	}
	var refs []hubapi.ExternalRef
	if err := tx.NewSelect().Model(&refs).Where("connector_id = ?", connectorID).Where("resource = ?", hubapi.ResourceDepenses).
		Where("external_id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return err
	}
	mapped := map[string]int64{}
	for _, r := range refs {
		mapped[r.ExternalID] = r.ResourceID
	}
	var fresh []hubapi.Depense
	var freshIDs []string
	for _, it := range items {
		in, err := depenseInput(it.vendorID, it.e, byCode, byNom)
		if err != nil {
			return err
		}
		if rowID := mapped[it.vendorID]; rowID != 0 {
			d := &hubapi.Depense{}
			d.Apply(in)
			res, err := tx.NewUpdate().Model(d).Column("chantier_id", "date", "libelle", "fournisseur", "montant_cents", "external_source", "external_id").
				Set("version = version + 1").Set("updated_at = ?", now).Where("id = ?", rowID).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				continue
			}
			// deleted in the product since: created again below
		}
		d := hubapi.Depense{CreatedAt: now, UpdatedAt: now, Version: 1}
		d.Apply(in)
		fresh = append(fresh, d)
		freshIDs = append(freshIDs, it.vendorID)
	}
	if len(fresh) == 0 {
		return nil
	}
	if _, err := tx.NewInsert().Model(&fresh).Returning("id").Exec(ctx); err != nil {
		return err
	}
	newRefs := make([]hubapi.ExternalRef, len(fresh))
	for i, d := range fresh {
		newRefs[i] = hubapi.ExternalRef{ConnectorID: connectorID, Resource: hubapi.ResourceDepenses, ExternalID: freshIDs[i], ResourceID: d.ID,
			CreatedAt: now, UpdatedAt: now}
	}
	_, err = tx.NewInsert().Model(&newRefs).On("CONFLICT (connector_id, resource, external_id) DO UPDATE").
		Set("resource_id = EXCLUDED.resource_id").Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
	return err
}

// chantiersNamed finds the chantiers whose code or nom is one of names
// (the class or customer references of purchases).
func chantiersNamed(ctx context.Context, tx bun.Tx, names map[string]bool) (byCode, byNom map[string]int64, err error) {
	byCode, byNom = map[string]int64{}, map[string]int64{}
	if len(names) == 0 {
		return byCode, byNom, nil
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	var chs []hubapi.Chantier
	if err := tx.NewSelect().Model(&chs).Column("id", "code", "nom").
		WhereOr("code IN (?)", bun.List(list)).WhereOr("nom IN (?)", bun.List(list)).Order("id").Scan(ctx); err != nil {
		return nil, nil, err
	}
	for _, c := range chs {
		if _, ok := byCode[c.Code]; !ok {
			byCode[c.Code] = c.ID
		}
		if _, ok := byNom[c.Nom]; !ok {
			byNom[c.Nom] = c.ID
		}
	}
	return byCode, byNom, nil
}

func clip(s string, n int) string {
	s = strings.TrimSpace(strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), ""))
	if utf8.RuneCountInString(s) > n {
		s = strings.TrimSpace(string([]rune(s)[:n]))
	}
	return s
}

// depenseInput maps a purchase onto a dépense: the chantier its class, else
// its customer, names (by code, then nom).
func depenseInput(vendorID string, e quickbooks.Expense, byCode, byNom map[string]int64) (hubapi.DepenseInput, error) {
	var chantier *int64
	for _, ref := range []*quickbooks.Ref{e.ClassRef, e.CustomerRef} {
		if ref == nil || chantier != nil {
			continue
		}
		n := strings.TrimSpace(ref.Name)
		if id, ok := byCode[n]; ok {
			chantier = &id
		} else if id, ok := byNom[n]; ok {
			chantier = &id
		}
	}
	day, err := time.Parse(time.DateOnly, e.Date)
	if err != nil {
		return hubapi.DepenseInput{}, &connectors.Error{Kind: connectors.KindMalformed, Msg: "a purchase has no valid TxnDate"}
	}
	src, ext := quickBooksSource, clip(vendorID, 128)
	in := hubapi.DepenseInput{ChantierID: chantier, Date: hubapi.NewDate(day.Year(), day.Month(), day.Day()),
		Libelle: clip(e.Description, 300), MontantCents: e.AmountCents, ExternalSource: &src, ExternalID: &ext}
	if in.Libelle == "" {
		in.Libelle = "Dépense QuickBooks " + ext
	}
	if e.Vendor != nil {
		in.Fournisseur = clip(e.Vendor.Name, 200)
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return hubapi.DepenseInput{}, &connectors.Error{Kind: connectors.KindMalformed, Msg: "purchase " + ext + " does not make a valid dépense"}
	}
	return in, nil
}

// invoicePushBatch bounds the factures one run pushes per query.
const invoicePushBatch = 100

// pushInvoices pushes the factures issued (emise, payee) that QuickBooks
// has not seen in their current version: created the first time (with a
// requestid, so a create repeated after a lost answer returns the first
// invoice), updated with the stored SyncToken afterwards. Each push is
// committed on its own (its ids in external_refs, its SyncToken in
// connector_records), so a run that stops goes on where it stopped.
func (s *syncer) pushInvoices(ctx context.Context, c *hubapi.Connector, owner string, conn connectors.Connector, cfg connectors.Config) (int64, error) {
	qb, ok := conn.(*quickbooks.Connector)
	if !ok {
		return 0, nil
	}
	var pushed int64
	for {
		var fs []hubapi.Facture
		err := s.db.NewSelect().Model(&fs).
			Join("LEFT JOIN external_refs AS er ON er.connector_id = ? AND er.resource = ? AND er.resource_id = facture.id", c.ID, hubapi.ResourceFactures).
			Join("LEFT JOIN connector_records AS cr ON cr.connector_id = ? AND cr.stream = ? AND cr.external_id = er.external_id", c.ID, streamInvoices).
			Where("facture.statut IN (?)", bun.List([]hubapi.FactureStatut{hubapi.FactureEmise, hubapi.FacturePayee})).
			Where("(er.external_id IS NULL OR cr.synced_at IS NULL OR facture.updated_at > cr.synced_at)").
			OrderExpr("facture.id").Limit(invoicePushBatch).Scan(ctx)
		if err != nil {
			return pushed, err
		}
		for i := range fs {
			if err := s.pushInvoice(ctx, c, owner, qb, cfg, &fs[i]); err != nil {
				return pushed, err
			}
			pushed++
		}
		if len(fs) < invoicePushBatch {
			return pushed, nil
		}
	}
}

func (s *syncer) pushInvoice(ctx context.Context, c *hubapi.Connector, owner string, qb *quickbooks.Connector, cfg connectors.Config, f *hubapi.Facture) error {
	inv := quickbooks.Invoice{DocNumber: f.Numero, RequestID: strconv.FormatInt(c.ID, 10) + "/facture/" + strconv.FormatInt(f.ID, 10) + "/" + strconv.FormatInt(f.Version, 10)}
	if !f.DateEmission.IsZero() {
		inv.TxnDate = f.DateEmission.String()
	}
	label := f.Libelle
	if label == "" {
		label = "Facture " + f.Numero
	}
	inv.Lines = []quickbooks.InvoiceLine{{Description: label, AmountCents: f.MontantHTCents}}
	// The customer: the facture's client (by its stored QuickBooks id,
	// else its name), else the chantier's client name.
	if f.ClientID != nil {
		cl, err := store.Get[hubapi.Client](ctx, s.db, *f.ClientID)
		if err != nil {
			return err
		}
		inv.CustomerName = cl.Nom
		if inv.CustomerID, err = store.ExternalIDOf(ctx, s.db, c.ID, hubapi.ResourceClients, cl.ID); err != nil {
			return err
		}
	} else {
		ch, err := store.Get[hubapi.Chantier](ctx, s.db, f.ChantierID)
		if err != nil {
			return err
		}
		inv.CustomerName = cmpOrStr(ch.ClientNom, ch.Nom)
	}
	invoiceID, err := store.ExternalIDOf(ctx, s.db, c.ID, hubapi.ResourceFactures, f.ID)
	if err != nil {
		return err
	}
	if invoiceID != "" {
		var rec hubapi.ConnectorRecord
		err := s.db.NewSelect().Model(&rec).Where("connector_id = ? AND stream = ? AND external_id = ?", c.ID, streamInvoices, invoiceID).Scan(ctx)
		if err == nil {
			var p quickbooks.Pushed
			_ = json.Unmarshal(rec.Data, &p)
			inv.ID, inv.SyncToken = invoiceID, p.SyncToken
		} else if errors.Is(err, sql.ErrNoRows) {
			inv.ID = invoiceID // SyncToken unknown: the stale answer re-reads it
		} else {
			return err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, connectors.DefaultCallTimeout)
	p, err := qb.PushInvoice(cctx, cfg, inv)
	cancel()
	if err != nil {
		e := connectors.AsError(err)
		return &connectors.Error{Kind: e.Kind, Status: e.Status, RetryAfter: e.RetryAfter, Msg: "pushing facture " + strconv.FormatInt(f.ID, 10) + ": " + cfg.Redact(e.Msg)}
	}
	now := s.now()
	data, _ := json.Marshal(p)
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		ok, err := s.renew(ctx, tx, c.ID, owner)
		if err != nil {
			return err
		}
		if !ok {
			return errLeaseLost
		}
		if err := store.PutExternalRef(ctx, tx, &hubapi.ExternalRef{ConnectorID: c.ID, Resource: hubapi.ResourceFactures, ExternalID: p.ID,
			ResourceID: f.ID, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if f.ClientID != nil {
			if err := store.PutExternalRef(ctx, tx, &hubapi.ExternalRef{ConnectorID: c.ID, Resource: hubapi.ResourceClients, ExternalID: p.CustomerID,
				ResourceID: *f.ClientID, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		// synced_at is the facture's updated_at as pushed: a facture
		// changed since (even during the push) is pushed again.
		row := hubapi.ConnectorRecord{ConnectorID: c.ID, Stream: streamInvoices, ExternalID: p.ID, Data: data, SyncedAt: f.UpdatedAt}
		_, err = tx.NewInsert().Model(&row).On("CONFLICT (connector_id, stream, external_id) DO UPDATE").
			Set("data = EXCLUDED.data").Set("synced_at = EXCLUDED.synced_at").Exec(ctx)
		return err
	})
}

func cmpOrStr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}
