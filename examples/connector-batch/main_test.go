package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors/example/examplefake"
)

const apiKey = "sk_batch_test_key_0000WXYZ"

// TestMain runs main itself when asked: the crash test kills that process.
func TestMain(m *testing.M) {
	if args := os.Getenv("CONNECTOR_BATCH_ARGS"); args != "" {
		os.Args = append([]string{"connector-batch"}, strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// readRecords returns the ids of the output, failing on a duplicate.
func readRecords(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if ids[r.ID] {
			t.Fatalf("record %s twice", r.ID)
		}
		ids[r.ID] = true
	}
	return ids
}

func checkAll(t *testing.T, ids map[string]bool, n int) {
	t.Helper()
	if len(ids) != n {
		t.Fatalf("%d records, want %d", len(ids), n)
	}
	for i := 1; i <= n; i++ {
		if !ids[fmt.Sprintf("e%06d", i)] {
			t.Fatalf("e%06d missing (gap)", i)
		}
	}
}

func TestBatchSyncsThenResumesIncrementally(t *testing.T) {
	fake := examplefake.New("acme", apiKey, 120)
	defer fake.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "connector.json")
	if err := os.WriteFile(cfg, []byte(`{"type":"example","settings":{"account":"acme"},"secrets":{"api_key":"`+apiKey+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	state, out := filepath.Join(dir, "state.json"), filepath.Join(dir, "records.jsonl")
	args := []string{"-config", cfg, "-base-url", fake.URL, "-state", state, "-out", out}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatal(err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "synced 120 records") || !strings.Contains(stderr.String(), "records") {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
	checkAll(t, readRecords(t, out), 120)
	fake.Add(7)
	stdout.Reset()
	if err := run(context.Background(), append(args, "-quiet"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "synced 7 records") {
		t.Fatalf("incremental run: %q", stdout.String())
	}
	checkAll(t, readRecords(t, out), 127)
	if strings.Contains(stdout.String()+stderr.String(), apiKey) {
		t.Fatal("the output shows the key")
	}
}

func TestBatchFailuresExitWithAnErrorAndNoSecret(t *testing.T) {
	fake := examplefake.New("acme", apiKey, 10)
	defer fake.Close()
	dir := t.TempDir()
	base := []string{"-quiet", "-base-url", fake.URL, "-state", filepath.Join(dir, "s.json"), "-out", filepath.Join(dir, "o.jsonl"), "-type", "example",
		"-setting", "account=acme"}
	for name, args := range map[string][]string{
		"wrong key":       append(base, "-secret", "api_key=wrong-"+apiKey),
		"missing secret":  base,
		"unknown type":    append(base, "-type", "nope", "-secret", "api_key="+apiKey),
		"vendor down 5xx": append(base, "-secret", "api_key="+apiKey, "-timeout", "300ms", "-attempts", "2"),
	} {
		t.Run(name, func(t *testing.T) {
			if name == "vendor down 5xx" {
				fake.Always(examplefake.Unavailable)
				defer fake.Always(examplefake.None)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, &stdout, &stderr)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Fatalf("error shows the key: %v", err)
			}
		})
	}
	// The process itself exits 1.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CONNECTOR_BATCH_ARGS="+strings.Join(append(base, "-secret", "api_key=wrong"), "\x1f"))
	if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
}

// kill -9 in the middle of a sync, then a second run: every record once,
// none missing, and the second run starts at the checkpoint.
func TestBatchKilledResumesFromCheckpoint(t *testing.T) {
	fake := examplefake.New("acme", apiKey, 400)
	defer fake.Close()
	killed := make(chan struct{})
	fake.SetOnPage(func(n int) {
		if n == 4 {
			close(killed)
			time.Sleep(3 * time.Second) // the process dies waiting for this page
		}
	})
	dir := t.TempDir()
	state, out := filepath.Join(dir, "state.json"), filepath.Join(dir, "records.jsonl")
	args := []string{"-quiet", "-type", "example", "-setting", "account=acme", "-base-url", fake.URL, "-state", state, "-out", out}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "CONNECTOR_BATCH_ARGS="+strings.Join(args, "\x1f"), "CONNECTOR_SECRET_API_KEY="+apiKey)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the batch never reached page 5")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Simulate a crash between the records and the checkpoint: a record
	// written after the last checkpoint must be dropped by the next run.
	f, err := os.OpenFile(out, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"stream":"entries","id":"e000201","data":{}}` + "\n")
	_ = f.Close()
	fake.SetOnPage(nil)
	before := fake.Requests.Load()
	t.Setenv("CONNECTOR_SECRET_API_KEY", apiKey)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatal(err, stderr.String())
	}
	checkAll(t, readRecords(t, out), 400)
	if n := fake.Requests.Load() - before; n != 4 { // pages 5 to 8 of 50
		t.Fatalf("%d requests after the restart, want 4", n)
	}
}
