package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// run runs a command line through Main and turns a non-zero exit status
// into an error carrying the status and what was written on stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var errOut syncBuffer
	code := Main(ctx, args, stdin, stdout, io.MultiWriter(stderr, &errOut))
	if code != 0 {
		return fmt.Errorf("exit status %d: %s", code, errOut.String())
	}
	return nil
}

var shared struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// sharedBinary builds cmd/hubchantier once for the tests that run it as a
// process (signals, exit statuses of the real binary).
func sharedBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "hubchantier-test-"); shared.err != nil {
			return
		}
		shared.bin = filepath.Join(shared.dir, "hubchantier")
		out, err := exec.Command(gobin, "build", "-o", shared.bin, ".").CombinedOutput()
		if err != nil {
			shared.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}
