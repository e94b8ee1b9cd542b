package server_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi/server"
)

// Every document that lists the configuration names exactly the variables
// ConfigFromEnv reads: a new variable cannot be forgotten in one of them, and
// none documents a variable the server ignores (test variables aside).
func TestDocumentsListEveryVariable(t *testing.T) {
	want := server.EnvNames()
	name := regexp.MustCompile(`\bHUB_[A-Z0-9_]+`)
	for _, doc := range []string{"README.md", "docs/OPERATIONS.md", "examples/deploy/hub.env.example", "examples/deploy/docker-compose.prod.yml"} {
		t.Run(doc, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(doc)))
			if err != nil {
				t.Fatal(err)
			}
			var found []string
			for _, n := range name.FindAllString(string(b), -1) {
				if !strings.HasPrefix(n, "HUB_TEST_") && !slices.Contains(found, n) {
					found = append(found, n)
				}
			}
			for _, n := range want {
				if !slices.Contains(found, n) {
					t.Errorf("%s is not documented", n)
				}
			}
			for _, n := range found {
				if !slices.Contains(want, n) {
					t.Errorf("%s is documented but the server does not read it", n)
				}
			}
		})
	}
}
