package main

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestRunPrintsAHashOfTheFirstLine(t *testing.T) {
	var out bytes.Buffer
	if err := run(strings.NewReader("0123abcd\r\nignored\n"), &out); err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSuffix(out.String(), "\n")
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("0123abcd")); err != nil {
		t.Errorf("the hash does not verify the password: %v", err)
	}
}

func TestRunRefusesAnEmptyPassword(t *testing.T) {
	for _, in := range []string{"", "\n", "\r\n"} {
		if err := run(strings.NewReader(in), &bytes.Buffer{}); err == nil {
			t.Errorf("input %q: no error", in)
		}
	}
}
