// Command connector-batch runs one connector sync from a plain main, without
// the Hub Chantier server: the connectors package's Runner, a configuration
// from a file or flags, the checkpoint kept in a local file, the records
// appended to a JSON Lines file, a progress bar, exit code 0 or 1.
//
//	go run ./examples/connector-batch -type example -setting account=acme \
//	    -secret api_key=sk_live_... -state sync.state.json -out records.jsonl
//
//	go run ./examples/connector-batch -config connector.json
//
// connector.json: {"type": "example", "settings": {...}, "secrets": {...}}.
// Secrets may also come from the environment: CONNECTOR_SECRET_API_KEY
// sets the secret api_key (so that they stay out of the shell history).
//
// Run it again to resume: after a crash (kill -9 included) it starts from
// the last checkpoint and drops what was written after it, so the output
// holds every record once. -base-url points the connector at a fake vendor
// (tests, demos); it is refused unless given explicitly.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/example"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "connector-batch:", err)
		os.Exit(1)
	}
}

// fileConfig is the -config file.
type fileConfig struct {
	Type     string            `json:"type"`
	Settings map[string]string `json:"settings"`
	Secrets  map[string]string `json:"secrets"`
}

// pairs is a repeatable -flag k=v.
type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(len(p), " values") }

func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want name=value")
	}
	p[k] = v
	return nil
}

// registry is the connector types this program knows. Vendor packages
// register theirs here the same way.
func registry(allowBaseURL bool) (*connectors.Registry, error) {
	reg := connectors.NewRegistry()
	if allowBaseURL {
		reg.AllowBaseURLOverride()
	}
	return reg, example.Register(reg)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("connector-batch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings, secrets := pairs{}, pairs{}
	cfgFile := fs.String("config", "", "JSON file: {\"type\", \"settings\", \"secrets\"}")
	typ := fs.String("type", "", "connector type (overrides the file's)")
	fs.Var(settings, "setting", "a setting, name=value (repeatable)")
	fs.Var(secrets, "secret", "a secret, name=value (repeatable; or CONNECTOR_SECRET_<NAME>)")
	statePath := fs.String("state", "connector-state.json", "checkpoint file")
	outPath := fs.String("out", "connector-records.jsonl", "records, one JSON object a line")
	baseURL := fs.String("base-url", "", "vendor base URL (fakes and tests only)")
	timeout := fs.Duration("timeout", connectors.DefaultCallTimeout, "timeout of one vendor call")
	attempts := fs.Int("attempts", connectors.DefaultCallAttempts, "tries of one vendor call (backoff with jitter between them)")
	total := fs.Duration("max-duration", time.Hour, "give up after this long (the next run resumes)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var fc fileConfig
	if *cfgFile != "" {
		b, err := os.ReadFile(*cfgFile)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &fc); err != nil {
			return fmt.Errorf("%s: not a connector configuration (%s)", *cfgFile, jsonWhy(err))
		}
	}
	cfg := connectors.Config{Settings: map[string]string{}, Secrets: map[string]string{}}
	for k, v := range fc.Settings {
		cfg.Settings[k] = v
	}
	for k, v := range fc.Secrets {
		cfg.Secrets[k] = v
	}
	for k, v := range settings {
		cfg.Settings[k] = v
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "CONNECTOR_SECRET_") {
			cfg.Secrets[strings.ToLower(strings.TrimPrefix(k, "CONNECTOR_SECRET_"))] = v
		}
	}
	for k, v := range secrets {
		cfg.Secrets[k] = v
	}
	if *typ == "" {
		*typ = fc.Type
	}
	reg, err := registry(*baseURL != "")
	if err != nil {
		return err
	}
	conn, spec, err := reg.New(*typ, connectors.Options{BaseURL: *baseURL})
	if err != nil {
		return err
	}
	if err := spec.Validate(cfg); err != nil {
		return err // names fields, never values
	}

	sink, err := openSink(*statePath, *outPath)
	if err != nil {
		return err
	}
	defer sink.close()

	var bar *progressbar.ProgressBar
	if !*quiet {
		bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("syncing "+*typ),
			progressbar.OptionShowCount(), progressbar.OptionSetItsString("records"), progressbar.OptionShowIts(),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	ctx, cancel := context.WithTimeout(ctx, *total)
	defer cancel()
	runner := connectors.NewRunner(connectors.RunnerConfig{CallTimeout: *timeout, CallAttempts: *attempts})
	var last int64
	sum, err := runner.Run(ctx, connectors.Job{Key: *typ, Connector: conn, Spec: spec, Config: cfg, State: sink.state.State, Sink: sink,
		Progress: func(p connectors.Progress) {
			if bar != nil {
				_ = bar.Add64(p.Records - last)
			}
			last = p.Records
		}})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return fmt.Errorf("sync stopped after %d records (run again to resume from the checkpoint): %w", sum.Records, err)
	}
	fmt.Fprintf(stdout, "synced %d records in %d calls (%d retried); checkpoint in %s\n", sum.Records, sum.Calls, sum.Retries, *statePath)
	return nil
}

func jsonWhy(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "unexpected member types"
}

// stateFile is the checkpoint: the connector's state and how many bytes of
// the output hold records read before it.
type stateFile struct {
	State       connectors.State `json:"state"`
	OutputBytes int64            `json:"output_bytes"`
}

// fileSink commits records to the output and the checkpoint to the state
// file: records first (synced to disk), then the state file replaced
// atomically. A crash in between leaves records past the checkpoint's
// offset, which the next run truncates: none is kept twice.
type fileSink struct {
	statePath string
	out       *os.File
	state     stateFile
}

func openSink(statePath, outPath string) (*fileSink, error) {
	s := &fileSink{statePath: statePath}
	b, err := os.ReadFile(statePath) // #nosec G304 -- a path the operator gives
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &s.state); err != nil {
			return nil, fmt.Errorf("%s: not a checkpoint file (%s); remove it to sync from the beginning", statePath, jsonWhy(err))
		}
	}
	out, err := os.OpenFile(outPath, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- a path the operator gives
	if err != nil {
		return nil, err
	}
	if err := out.Truncate(s.state.OutputBytes); err != nil { // drop what a crash left after the checkpoint
		_ = out.Close()
		return nil, err
	}
	if _, err := out.Seek(s.state.OutputBytes, io.SeekStart); err != nil {
		_ = out.Close()
		return nil, err
	}
	s.out = out
	return s, nil
}

// Commit implements connectors.Checkpointer.
func (s *fileSink) Commit(_ context.Context, recs []connectors.Record, st connectors.State) error {
	w := bufio.NewWriter(s.out)
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := s.out.Sync(); err != nil {
		return err
	}
	off, err := s.out.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	next := stateFile{State: st, OutputBytes: off}
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.statePath), ".state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.statePath); err != nil {
		return err
	}
	s.state = next
	return nil
}

func (s *fileSink) close() { _ = s.out.Close() }
