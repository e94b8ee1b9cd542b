package apiv2

// The types are generated from the OpenAPI document of REST v2, first
// converted to OpenAPI 3.0.3 (openapi30.json, checked in and compared with
// the converter's output by a test). `.ci/run` regenerates both and fails
// when the tree changes.
//
//go:generate go run ../internal/openapi30/cmd/openapi30 -in ../../hubapi/rest/openapi/openapi-v2.json -out openapi30.json
//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml openapi30.json
