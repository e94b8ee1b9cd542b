// Command metrics-password prints the bcrypt hash to put in
// HUB_METRICS_PASSWORD_HASH for the password read from standard input (the
// first line; a trailing newline is not part of it):
//
//	openssl rand -hex 32 > examples/deploy/secrets/metrics_password
//	go run ./examples/deploy/metrics-password < examples/deploy/secrets/metrics_password
//
// The password itself is what Prometheus sends (its password_file).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hubchantier/hubchantier/hubapi/metrics"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "metrics-password:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(io.LimitReader(in, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("no password on standard input")
	}
	hash, err := metrics.HashPassword([]byte(password))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, hash)
	return err
}
