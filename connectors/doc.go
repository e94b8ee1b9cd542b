// Package connectors is the framework of Hub Chantier's vendor connectors
// (accounting, payroll, calendars, storage, chat): the Connector interface,
// a Registry of connector types, configurations sealed with AES-256-GCM
// (Sealer, keys in HUB_CONNECTOR_KEYS), a Runner that makes syncs durable
// (checkpoints committed with the records, per-call timeouts, retries with
// exponential backoff and jitter, vendor rate limits shared through Redis,
// circuit breakers), and OAuth client-side token handling (OAuth).
//
// It never imports the product: what a connector reads goes through the
// Checkpointer port, and the product (hubapi) runs syncs as River jobs,
// stores configurations, checkpoints and sync logs, and serves the REST
// routes. The same Runner runs a sync from a plain main (see
// examples/connector-batch).
//
//	reg := connectors.NewRegistry()
//	example.Register(reg)
//	c, spec, _ := reg.New("example", connectors.Options{})
//	run := connectors.NewRunner(connectors.RunnerConfig{})
//	sum, err := run.Run(ctx, connectors.Job{Key: "1", Connector: c, Spec: spec,
//		Config: cfg, State: lastState, Sink: mySink})
//
// A vendor package (connectors/<vendor>) registers its Spec and Factory,
// fixes its base URL (tests override it through Options.BaseURL on a
// registry that allows it), classifies failures with DoJSON (or *Error),
// and ships an httptest fake speaking the vendor's protocol.
package connectors
