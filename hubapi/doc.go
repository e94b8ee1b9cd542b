// Package hubapi is the Hub Chantier product: domain types and their
// validation, errors, permissions (roles and scopes), domain events and the
// service interfaces that every adapter (REST v1, later v2, GraphQL, batch)
// calls. It imports no framework: storage lives in hubapi/store, use cases in
// hubapi/service, HTTP in hubapi/rest, and hubapi/server assembles them.
package hubapi
