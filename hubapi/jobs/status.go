package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Status is what "hubchantier jobs status" shows: read from River's table,
// so it covers every instance.
type Status struct {
	// Depth counts the jobs waiting or running, by state (available,
	// scheduled, retryable, running, pending).
	Depth map[string]int
	// Failing counts the jobs that failed at least once and are waiting for
	// a retry (retryable) or were given up (discarded), by kind.
	Failing []KindCount
	// Periodic lists each periodic job seen in the table, with its last run.
	Periodic []PeriodicStatus
}

// KindCount is a number of jobs of one kind in one state.
type KindCount struct {
	Kind, State string
	N           int
}

// PeriodicStatus is the last run of one periodic job.
type PeriodicStatus struct {
	Name string
	// LastRun is when its latest finished run ended (zero: none finished).
	LastRun time.Time
	// LastState is the state of its latest job.
	LastState string
}

// ReadStatus reads the queue's status from db.
func ReadStatus(ctx context.Context, db *store.DB) (Status, error) {
	st := Status{Depth: map[string]int{}}
	rows, err := db.QueryContext(ctx, `SELECT state, count(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending') GROUP BY state`)
	if err != nil {
		return st, err
	}
	err = scanRows(rows, func(r *sql.Rows) error {
		var s string
		var n int
		err := r.Scan(&s, &n)
		st.Depth[s] = n
		return err
	})
	if err != nil {
		return st, err
	}
	rows, err = db.QueryContext(ctx, `SELECT kind, state, count(*) FROM river_job
		WHERE state IN ('retryable', 'discarded') GROUP BY kind, state ORDER BY kind, state`)
	if err != nil {
		return st, err
	}
	err = scanRows(rows, func(r *sql.Rows) error {
		var k KindCount
		err := r.Scan(&k.Kind, &k.State, &k.N)
		st.Failing = append(st.Failing, k)
		return err
	})
	if err != nil {
		return st, err
	}
	// The latest jobs of kind periodic, newest first: the first seen of a
	// name is its latest.
	rows, err = db.QueryContext(ctx, `SELECT args, state, finalized_at FROM river_job
		WHERE kind = 'periodic' ORDER BY id DESC LIMIT 1000`)
	if err != nil {
		return st, err
	}
	seen := map[string]*PeriodicStatus{}
	err = scanRows(rows, func(r *sql.Rows) error {
		var raw []byte
		var state string
		var fin sql.NullTime
		if err := r.Scan(&raw, &state, &fin); err != nil {
			return err
		}
		var a periodicArgs
		if json.Unmarshal(raw, &a) != nil || a.Name == "" {
			return nil
		}
		p := seen[a.Name]
		if p == nil {
			p = &PeriodicStatus{Name: a.Name, LastState: state}
			seen[a.Name] = p
		}
		if p.LastRun.IsZero() && fin.Valid {
			p.LastRun = fin.Time.UTC()
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	for _, p := range seen {
		st.Periodic = append(st.Periodic, *p)
	}
	sort.Slice(st.Periodic, func(i, j int) bool { return st.Periodic[i].Name < st.Periodic[j].Name })
	return st, nil
}

func scanRows(rows *sql.Rows, fn func(*sql.Rows) error) error {
	for rows.Next() {
		if err := fn(rows); err != nil {
			_ = rows.Close()
			return err
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}
