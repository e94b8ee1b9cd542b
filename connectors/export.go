package connectors

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Exporter is a connector that pushes a batch of the product's data to the
// vendor on request: an accounting connector turns the validated pointages
// of a period into invoices, a payroll connector into worked hours. It
// answers with the records of what it created or updated at the vendor
// (their vendor ids), which the product keeps like synced records.
//
// An export must be idempotent at the vendor: each item carries a Key
// stable across runs (a period and a chantier), which the connector stores
// at the vendor (a reference field) and looks up before creating, so an
// export run again, or retried after a failure half-way, updates or skips
// what it already created instead of doubling it.
type Exporter interface {
	Export(ctx context.Context, cfg Config, req ExportRequest) ([]Record, error)
}

// ExportRequest is one export: its kind ("factures"), its period (dates,
// From and To included) and its items, whose shape the kind defines.
type ExportRequest struct {
	Kind  string       `json:"kind"`
	From  time.Time    `json:"from"`
	To    time.Time    `json:"to"`
	Items []ExportItem `json:"items"`
}

// ExportItem is one thing to export, with the key that makes a rerun
// idempotent.
type ExportItem struct {
	Key  string          `json:"key"`
	Data json.RawMessage `json:"data"`
}

// Export runs an export through c under the call timeout, with panics
// recovered and secrets redacted from the error, like Check. A connector
// that does not export answers KindRejected.
func (r *Runner) Export(ctx context.Context, c Connector, cfg Config, req ExportRequest) ([]Record, error) {
	ex, ok := c.(Exporter)
	if !ok {
		return nil, &Error{Kind: KindRejected, Msg: fmt.Sprintf("connectors of type %q do not export", c.Type())}
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	type out struct {
		recs []Record
		err  error
	}
	ch := make(chan out, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- out{err: &Error{Kind: KindPanic, Msg: fmt.Sprint(p)}}
			}
		}()
		recs, err := ex.Export(cctx, cfg.Clone(), req)
		ch <- out{recs, err}
	}()
	var o out
	select {
	case o = <-ch:
	case <-cctx.Done():
		o.err = &Error{Kind: KindTimeout, Msg: "the export exceeded " + r.cfg.CallTimeout.String()}
	}
	if o.err == nil {
		return o.recs, nil
	}
	e := AsError(o.err)
	return nil, &Error{Kind: e.Kind, Status: e.Status, RetryAfter: e.RetryAfter, Msg: cfg.Redact(e.Msg)}
}
