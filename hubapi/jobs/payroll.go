package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/silae"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// PayrollTypes are the connector types that take the monthly export of
// validated pointages (payroll).
var PayrollTypes = []string{silae.Type}

// payrollExportArgs is the export of one month of validated pointages to
// a payroll connector (River kind "payroll_export"), unique by connector
// and month while queued, running or waiting for a retry. The vendor
// replaces the month, so an export run again never doubles it.
type payrollExportArgs struct {
	ConnectorID int64  `json:"connector_id" river:"unique"`
	Month       string `json:"month" river:"unique"` // YYYY-MM
}

// Kind is River's job kind.
func (payrollExportArgs) Kind() string { return "payroll_export" }

// ErrNotPayroll is returned for an export asked of a connector that takes none.
var ErrNotPayroll = errors.New("jobs: the connector takes no payroll export")

// EnqueuePayrollExport queues the export of month (any time in it) to
// connector id in tx, unless the same export is already queued, running or
// waiting for a retry (then it reports false).
func (q *Queue) EnqueuePayrollExport(ctx context.Context, tx bun.Tx, id int64, month time.Time) (bool, error) {
	if q.connectors == nil {
		return false, errors.New("jobs: connector syncs are not configured")
	}
	res, err := q.client.InsertTx(ctx, tx.Tx, payrollExportArgs{ConnectorID: id, Month: month.UTC().Format("2006-01")}, q.connectors.insertOpts())
	if err != nil {
		return false, err
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// payrollExporter works payroll exports under the connector's lease,
// logging each run in connector_sync_logs (records: the pointages sent).
type payrollExporter struct {
	river.WorkerDefaults[payrollExportArgs]
	s *syncer
}

// Timeout bounds a job: the export's tries, then the bookkeeping.
func (w *payrollExporter) Timeout(*river.Job[payrollExportArgs]) time.Duration {
	return w.s.cfg.MaxDuration + sliceMargin
}

// NextRetry is the syncs' backoff.
func (w *payrollExporter) NextRetry(j *river.Job[payrollExportArgs]) time.Time {
	return time.Now().Add(w.s.cfg.Retry.Delay(j.Attempt))
}

// Work exports the month's validated pointages.
func (w *payrollExporter) Work(ctx context.Context, j *river.Job[payrollExportArgs]) error {
	s := w.s
	id := j.Args.ConnectorID
	month, err := time.Parse("2006-01", j.Args.Month)
	if err != nil {
		return river.JobCancel(fmt.Errorf("jobs: invalid month %q", j.Args.Month))
	}
	c, err := store.Get[hubapi.Connector](ctx, s.db, id)
	if errors.Is(err, hubapi.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !c.Enabled {
		return nil
	}
	owner := s.instance + ":payroll:" + strconv.FormatInt(j.ID, 10) + ":" + strconv.Itoa(j.Attempt)
	got, err := s.acquire(ctx, id, owner)
	if err != nil {
		return err
	}
	if !got {
		return river.JobSnooze(leaseBusySnooze())
	}
	defer s.release(context.WithoutCancel(ctx), id, owner)
	logID, err := s.startLog(ctx, id, owner, j.Attempt)
	if err != nil {
		return err
	}
	n, err := w.export(ctx, c, owner, month)
	if err == nil {
		_, err = s.db.NewUpdate().Model((*hubapi.ConnectorSyncLog)(nil)).Set("records_synced = ?", n).Where("id = ?", logID).Exec(ctx)
	}
	s.finish(ctx, id, owner, logID, int64(n), err)
	if err == nil {
		return nil
	}
	var e *connectors.Error
	if errors.As(err, &e) {
		switch {
		case !e.Temporary():
			return river.JobCancel(err)
		case e.RetryAfter > 0 && e.RetryAfter > s.cfg.Retry.Delay(j.Attempt):
			return river.JobSnooze(e.RetryAfter)
		}
	}
	if errors.Is(err, ErrNotPayroll) || errors.Is(err, connectors.ErrKey) {
		return river.JobCancel(err)
	}
	return err
}

func (w *payrollExporter) export(ctx context.Context, c *hubapi.Connector, owner string, month time.Time) (int, error) {
	s := w.s
	isPayroll := false
	for _, t := range PayrollTypes {
		isPayroll = isPayroll || t == c.Type
	}
	if !isPayroll {
		return 0, ErrNotPayroll
	}
	cfg, err := s.cfg.Sealer.Open(c.ConfigKeyID, c.ConfigSealed, ConnectorConfigBinding(c.ID))
	if err != nil {
		return 0, err
	}
	conn, _, err := s.cfg.Registry.New(c.Type, s.cfg.Options(c.Type))
	if err != nil {
		return 0, &connectors.Error{Kind: connectors.KindRejected, Msg: "connector type unavailable on this server"}
	}
	x, err := MonthPointages(ctx, s.db, month)
	if err != nil {
		return 0, err
	}
	data, err := json.Marshal(x)
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := s.heartbeat(rctx, c.ID, owner, cancel)
	defer stop()
	ev := connectors.Event{ID: strconv.FormatInt(c.ID, 10) + "/" + month.Format("2006-01"), Type: silae.EventExport, OccurredAt: s.now(), Data: data}
	if err := s.runner.HandleEvent(rctx, conn, cfg, ev); err != nil {
		if errors.Is(context.Cause(rctx), errLeaseLost) {
			return 0, errLeaseLost
		}
		return 0, err
	}
	return len(x.Pointages), nil
}

// MonthPointages reads the validated pointages of month (any time in it)
// as a payroll export; an employee's matricule is their user id.
func MonthPointages(ctx context.Context, db bun.IDB, month time.Time) (silae.Export, error) {
	from := hubapi.NewDate(month.Year(), month.Month(), 1)
	to := hubapi.NewDate(month.Year(), month.Month()+1, 1)
	var rows []hubapi.Pointage
	if err := db.NewSelect().Model(&rows).Column("user_id", "date", "type", "minutes").
		Where("statut = ?", hubapi.PointageValide).Where("date >= ?", from).Where("date < ?", to).
		Order("user_id", "date", "id").Scan(ctx); err != nil {
		return silae.Export{}, err
	}
	x := silae.Export{Year: month.Year(), Month: month.Month(), Pointages: make([]silae.Pointage, len(rows))}
	for i, p := range rows {
		x.Pointages[i] = silae.Pointage{Matricule: strconv.FormatInt(p.UserID, 10), Date: p.Date.Time(), Type: string(p.Type), Minutes: p.Minutes}
	}
	return x, nil
}

// monthlyPayroll is the periodic job that, on the 1st of each month (UTC),
// queues the export of the previous month to every enabled payroll
// connector.
func (q *Queue) monthlyPayroll(db *store.DB) Periodic {
	return Periodic{Name: "payroll-export", Interval: 24 * time.Hour, Run: func(ctx context.Context, period time.Time) error {
		return q.runMonthlyPayroll(ctx, db, period)
	}}
}

func (q *Queue) runMonthlyPayroll(ctx context.Context, db *store.DB, day time.Time) error {
	if day.UTC().Day() != 1 {
		return nil
	}
	prev := time.Date(day.Year(), day.Month()-1, 1, 0, 0, 0, 0, time.UTC)
	var ids []int64
	if err := db.NewSelect().Model((*hubapi.Connector)(nil)).Column("id").Where("enabled").
		Where("type IN (?)", bun.List(PayrollTypes)).Scan(ctx, &ids); err != nil {
		return err
	}
	for _, id := range ids {
		if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			_, err := q.EnqueuePayrollExport(ctx, tx, id, prev)
			return err
		}); err != nil {
			return fmt.Errorf("queueing the payroll export of connector %d: %w", id, err)
		}
	}
	return nil
}
