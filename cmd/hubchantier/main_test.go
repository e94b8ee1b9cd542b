package main

import (
	"context"
	"fmt"
	"io"
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
