// Command seqlists rewrites gqlgen's executable schema so that lists of the
// named object types are marshaled element after element, in the calling
// goroutine, instead of a goroutine per element (gqlgen's only way for
// lists of objects).
//
// It is right only for types whose fields are all read from the Go value
// (no resolver): their elements never wait, so goroutines only add
// scheduling. A type with a resolver field keeps its goroutines, which
// let the resolvers of a list batch their loads: seqlists refuses it.
//
// Usage (go generate, after gqlgen): seqlists generated/generated.go Chantier ChantierEdge
package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: seqlists <generated.go> <Type>...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "seqlists:", err)
		os.Exit(1)
	}
}

func run(file string, types []string) error {
	src, err := os.ReadFile(file) // #nosec G304 G703 -- the path go generate gives, in the repository
	if err != nil {
		return err
	}
	for _, t := range types {
		if bytes.Contains(src, []byte("ec.resolvers."+t+"()")) {
			return fmt.Errorf("%s has resolver fields: its lists must stay concurrent", t)
		}
		// the non-null list of non-null elements of t, and its nullable forms
		re := regexp.MustCompile(`(func \(ec \*executionContext\) marshal[NO]` + regexp.QuoteMeta(t) +
			`2ᚕ[^\n]*\n\tret := )graphql\.MarshalSliceConcurrently\(ctx, len\(v\), \d+, (?:true|false), `)
		out := re.ReplaceAll(src, []byte("${1}marshalSliceInOrder(ctx, len(v), "))
		if bytes.Equal(out, src) {
			return fmt.Errorf("no list of %s in %s", t, file)
		}
		src = out
	}
	return os.WriteFile(file, src, 0o600) // #nosec G703 -- the file just read, rewritten
}
