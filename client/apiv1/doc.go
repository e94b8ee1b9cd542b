// Package apiv1 holds the types of Hub Chantier's REST API v1 (French
// snake_case JSON members), generated from its OpenAPI document
// (hubapi/rest/openapi/openapi.json) by oapi-codegen. Do not edit
// types.gen.go: change the document and run `go generate ./client/...`.
//
// Package client sends and receives these types (client.Client.V1).
//
// Nullable members are nullable.Nullable[T] (github.com/oapi-codegen/nullable):
// in a merge patch (ChantierPatch, ...) an unset value leaves the member
// out, nullable.NewNullNullable[T]() sends null (reset to the default) and
// nullable.NewNullableWithValue(v) sends v.
package apiv1
