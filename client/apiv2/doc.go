// Package apiv2 holds the types of Hub Chantier's REST API v2 (camelCase
// English JSON members), generated from its OpenAPI document
// (hubapi/rest/openapi/openapi-v2.json) by oapi-codegen. Do not edit
// types.gen.go: change the document and run `go generate ./client/...`.
//
// Package client sends and receives these types (client.Client.V2).
//
// Nullable members are nullable.Nullable[T] (github.com/oapi-codegen/nullable):
// in a merge patch (ChantierPatch, ...) an unset value leaves the member
// out, nullable.NewNullNullable[T]() sends null (reset to the default) and
// nullable.NewNullableWithValue(v) sends v.
package apiv2
