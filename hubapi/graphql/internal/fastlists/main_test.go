package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `package generated

func (ec *executionContext) marshalNThing2ᚕᚖpkgᚐThingᚄ(ctx context.Context, sel ast.SelectionSet, v []*pkg.Thing) graphql.Marshaler {
	ret := marshalSliceInOrder(ctx, len(v), func(ctx context.Context, i int) graphql.Marshaler {
		return nil
	})
	return ret
}

func (ec *executionContext) marshalNThing2ᚖpkgᚐThing(ctx context.Context, sel ast.SelectionSet, v *pkg.Thing) graphql.Marshaler {
	return nil
}
`

func TestRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "generated.go")
	if err := os.WriteFile(file, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(file, []string{"Thing"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	want := "graphql.Marshaler {\n\tif m, ok := ec.fastListThing(ctx, sel, v); ok {\n\t\treturn m\n\t}\n\tret := marshalSliceInOrder("
	if got := string(b); !strings.Contains(got, want) || strings.Count(got, "fastList") != 1 {
		t.Fatalf("the list of Thing not rewritten once:\n%s", got)
	}
	// a second run changes nothing
	if err := run(file, []string{"Thing"}); err != nil {
		t.Fatal(err)
	}
	if b2, _ := os.ReadFile(file); string(b2) != string(b) {
		t.Errorf("a second run rewrote the file:\n%s", b2)
	}
	if err := run(file, []string{"Missing"}); err == nil || !strings.Contains(err.Error(), "lists of Missing") {
		t.Errorf("a type without a list: %v", err)
	}
	if err := run(filepath.Join(t.TempDir(), "none.go"), []string{"Thing"}); err == nil {
		t.Error("a missing file")
	}
}
