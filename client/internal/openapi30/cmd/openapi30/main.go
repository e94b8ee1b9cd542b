// Command openapi30 writes the OpenAPI 3.0.3 form of a 3.1 document (see
// package openapi30); `go generate ./client/...` runs it before
// oapi-codegen.
//
//	go run ./client/internal/openapi30/cmd/openapi30 -in openapi.json -out openapi30.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/hubchantier/hubchantier/client/internal/openapi30"
)

func main() {
	in := flag.String("in", "", "OpenAPI 3.1 JSON document to read")
	out := flag.String("out", "", "file to write the OpenAPI 3.0.3 document to")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	if in == "" || out == "" {
		return fmt.Errorf("openapi30: -in and -out are required")
	}
	doc, err := os.ReadFile(in) // #nosec G304 -- a path given by the developer running the generator
	if err != nil {
		return err
	}
	conv, err := openapi30.Convert(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(out, conv, 0o644) // #nosec G306 G703 -- a path given by the developer; a generated source file, world-readable like the rest of the tree
}
