// Package apitest runs the Hub Chantier server in tests and checks every
// request and response against the embedded OpenAPI 3.1 document, so the
// document cannot drift from the code.
//
// Start builds the reference server (server.New) over a testenv database,
// listens on a loopback port, and creates one user per role with an API key
// holding every scope of the role. Clients (Env.As, Env.WithKey,
// Env.Anonymous) then validate with kin-openapi:
//
//   - each request before it is sent: route, parameters, security, body,
//     and the API's strict query rule (only declared parameters, each at
//     most once). A deliberately malformed request is marked Invalid(), and
//     the document must reject it as well;
//   - each response: its status must be documented for the operation, its
//     documented headers present and valid, its body of a documented media
//     type and valid against the schema (resource objects are closed with
//     additionalProperties: false, so a new or missing member fails).
//
// Typical use, in an integration test:
//
//	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
//		env := apitest.Start(t, db, apitest.Config{})
//		var c hubapi.Chantier
//		env.As(hubapi.RoleAdmin).Post(t, "/api/v1/chantiers",
//			map[string]any{"code": "C1", "nom": "Tour", "adresse": "1 rue A"}).Expect(201).JSON(&c)
//		env.Anonymous().Get(t, "/api/v1/chantiers", apitest.Invalid()).Problem(401, "unauthorized")
//	})
package apitest
