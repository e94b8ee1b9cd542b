package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `package generated

func (ec *executionContext) marshalNThing2ᚕᚖpkgᚐThingᚄ(ctx context.Context, sel ast.SelectionSet, v []*pkg.Thing) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return nil
	})
	return ret
}

func (ec *executionContext) marshalNOther2ᚕᚖpkgᚐOtherᚄ(ctx context.Context, sel ast.SelectionSet, v []*pkg.Other) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec.resolvers.Other().X(ctx)
	})
	return ret
}
`

func TestRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "generated.go")
	write := func() {
		if err := os.WriteFile(file, []byte(sample), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write()
	if err := run(file, []string{"Thing"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	got := string(b)
	if !strings.Contains(got, "ret := marshalSliceInOrder(ctx, len(v), func(") || strings.Count(got, "MarshalSliceConcurrently") != 1 {
		t.Fatalf("Thing's list not rewritten, or Other's rewritten too:\n%s", got)
	}
	write()
	if err := run(file, []string{"Other"}); err == nil || !strings.Contains(err.Error(), "resolver") {
		t.Errorf("a type with resolvers: %v", err)
	}
	write()
	if err := run(file, []string{"Missing"}); err == nil || !strings.Contains(err.Error(), "no list of Missing") {
		t.Errorf("a type without a list: %v", err)
	}
	if err := run(filepath.Join(t.TempDir(), "none.go"), []string{"Thing"}); err == nil {
		t.Error("a missing file")
	}
}
