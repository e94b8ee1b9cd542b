package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(in, []byte(`{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), `"openapi": "3.0.3"`) {
		t.Fatalf("output %q %v", b, err)
	}
	if err := run("", out); err == nil {
		t.Error("missing -in accepted")
	}
	if err := run(filepath.Join(dir, "missing.json"), out); err == nil {
		t.Error("missing input file accepted")
	}
	if err := os.WriteFile(in, []byte(`{"openapi": "3.0.0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out); err == nil {
		t.Error("a 3.0 input converted")
	}
}
