package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/jobs"
)

func jobsStatusCommand() command {
	return command{name: "jobs status", summary: "print the job queue's depth, failing jobs and periodic jobs",
		setup: func(*flag.FlagSet) func(context.Context, streams) error {
			return func(ctx context.Context, st streams) error { return runJobsStatus(ctx, st.stdout) }
		}}
}

// runJobsStatus prints the job queue's status: depth by state, failing jobs
// by kind, and the last run of each periodic job.
func runJobsStatus(ctx context.Context, stdout io.Writer) error {
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	st, err := jobs.ReadStatus(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "queue: available %d, scheduled %d, running %d, retryable %d\n",
		st.Depth["available"], st.Depth["scheduled"], st.Depth["running"], st.Depth["retryable"])
	if len(st.Failing) == 0 {
		fmt.Fprintln(stdout, "failing: none")
	}
	for _, f := range st.Failing {
		fmt.Fprintf(stdout, "failing: %s %s %d\n", f.Kind, f.State, f.N)
	}
	if len(st.Periodic) == 0 {
		fmt.Fprintln(stdout, "periodic: none run yet")
	}
	for _, p := range st.Periodic {
		last := "never finished"
		if !p.LastRun.IsZero() {
			last = "last run " + p.LastRun.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "periodic: %s %s (%s)\n", p.Name, last, p.LastState)
	}
	return nil
}
