// Command fastlists makes gqlgen's list marshalers of the named object
// types try the one-pass encoder of generated/fastlists.go first: each
// marshalN<Type>2ᚕ…ᚄ (the non-null list of non-null elements) starts with
//
//	if m, ok := ec.fastList<Type>(ctx, sel, v); ok {
//		return m
//	}
//
// and keeps gqlgen's code for the cases the encoder leaves to it.
//
// Usage (go generate, after gqlgen): fastlists generated/generated.go Chantier ChantierEdge
package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: fastlists <generated.go> <Type>...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "fastlists:", err)
		os.Exit(1)
	}
}

func run(file string, types []string) error {
	src, err := os.ReadFile(file) // #nosec G304 G703 -- the path go generate gives, in the repository
	if err != nil {
		return err
	}
	for _, t := range types {
		call := "ec.fastList" + t + "(ctx, sel, v)"
		re := regexp.MustCompile(`func \(ec \*executionContext\) marshalN` + regexp.QuoteMeta(t) +
			`2ᚕᚖ[^\n(]*ᚄ\(ctx context\.Context, sel ast\.SelectionSet, v \[\]\*[^\n]*\) graphql\.Marshaler \{\n`)
		locs := re.FindAllIndex(src, -1)
		if len(locs) != 1 {
			return fmt.Errorf("%d non-null lists of %s in %s, want 1", len(locs), t, file)
		}
		end := locs[0][1]
		if bytes.HasPrefix(src[end:], []byte("\tif m, ok := "+call)) {
			continue // already done
		}
		ins := "\tif m, ok := " + call + "; ok {\n\t\treturn m\n\t}\n"
		src = append(src[:end:end], append([]byte(ins), src[end:]...)...)
	}
	return os.WriteFile(file, src, 0o600) // #nosec G703 -- the file just read, rewritten
}
