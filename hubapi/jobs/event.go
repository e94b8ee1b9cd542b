package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/txconn"
)

// EventArgs is the job of one domain event (River kind "event"): what the
// service recorded in the transaction of the write.
type EventArgs struct {
	ID         string           `json:"id"`
	Type       hubapi.EventType `json:"type"`
	Resource   string           `json:"resource"`
	ResourceID int64            `json:"resource_id"`
	ActorID    int64            `json:"actor_id,omitempty"`
	At         time.Time        `json:"at"`
	// Data is the resource after the change, as JSON (absent for deletions).
	Data json.RawMessage `json:"data,omitempty"`
}

// Kind is River's job kind.
func (EventArgs) Kind() string { return "event" }

// EventHandler handles one committed domain event, on some instance, at
// least once: an error retries the event later (River's backoff), so a
// handler must tolerate a repeat (EventArgs.ID identifies the event).
type EventHandler func(ctx context.Context, e EventArgs) error

// Enqueue records e as a job in tx, the transaction of the write that
// caused it (service.Outbox): the job exists exactly when tx commits.
func (q *Queue) Enqueue(ctx context.Context, tx bun.Tx, e hubapi.Event) error {
	return q.EnqueueMany(ctx, tx, []hubapi.Event{e})
}

// EnqueueMany records events in tx with one statement (the events of a
// unit of work, written together before its commit).
func (q *Queue) EnqueueMany(ctx context.Context, tx bun.Tx, events []hubapi.Event) error {
	params := make([]river.InsertManyParams, 0, len(events))
	for _, e := range events {
		args := EventArgs{ID: e.ID, Type: e.Type, Resource: e.Resource, ResourceID: e.ResourceID, ActorID: e.ActorID, At: e.At}
		if e.Data != nil {
			b, err := json.Marshal(e.Data)
			if err != nil {
				return fmt.Errorf("jobs: event data: %w", err)
			}
			args.Data = b
		}
		params = append(params, river.InsertManyParams{Args: args})
	}
	if len(params) == 0 {
		return nil
	}
	if q.postgres {
		args := make([]river.JobArgs, len(params))
		for i, p := range params {
			args[i] = p.Args
		}
		return q.insertPlain(ctx, tx, river.QueueDefault, args...)
	}
	_, err := q.client.InsertManyTx(ctx, tx.Tx, params)
	return err
}

// insertPlain inserts jobs of default options (no uniqueness, River's
// default priority and attempts) with one plain statement on PostgreSQL:
// the rows River's own insert writes, for a fraction of its cost (River's
// insert through database/sql allocates ~780 times per job), in the hot
// path of every write. Without LISTEN (database/sql) River polls for new
// jobs either way, so nothing else is skipped.
func (q *Queue) insertPlain(ctx context.Context, tx bun.Tx, queue string, jobs ...river.JobArgs) error {
	// args, kind, max_attempts, priority, queue of each job; state and
	// scheduled_at take their defaults ('available', now())
	rows := make([][]any, len(jobs))
	for i, args := range jobs {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("jobs: %s arguments: %w", args.Kind(), err)
		}
		rows[i] = []any{b, args.Kind(), river.MaxAttemptsDefault, river.PriorityDefault, queue}
	}
	if len(jobs) >= copyJobsFrom {
		// Many jobs (a batch's events): COPY inside tx when its connection
		// is known.
		_, err := txconn.CopyFrom(ctx, tx.Tx, "river_job", []string{"args", "kind", "max_attempts", "priority", "queue"}, rows)
		if !errors.Is(err, txconn.ErrNoCopy) {
			return err
		}
	}
	var sql strings.Builder
	sql.WriteString(`INSERT INTO river_job (args, kind, max_attempts, priority, queue) VALUES `)
	vals := make([]any, 0, 5*len(jobs))
	for i, r := range rows {
		if i > 0 {
			sql.WriteString(", ")
		}
		n := len(vals)
		fmt.Fprintf(&sql, "($%d::jsonb, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5)
		vals = append(vals, string(r[0].([]byte)), r[1], r[2], r[3], r[4])
	}
	_, err := tx.Tx.ExecContext(ctx, sql.String(), vals...)
	return err
}

// copyJobsFrom is the number of jobs from which insertPlain copies them
// (COPY costs one more round trip than an insert, and no statement to
// parse).
const copyJobsFrom = 8

// eventWorker runs the handlers of every event job.
func eventWorker(handlers []EventHandler) river.Worker[EventArgs] {
	return river.WorkFunc(func(ctx context.Context, j *river.Job[EventArgs]) error {
		for _, h := range handlers {
			if err := h(ctx, j.Args); err != nil {
				return err
			}
		}
		return nil
	})
}
