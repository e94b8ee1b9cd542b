package server_test

import (
	"bufio"
	"bytes"
	encjson "encoding/json"
	"flag"
	"fmt"
	"github.com/hubchantier/hubchantier/connectors/example/examplefake"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/problem"
)

// fuzzMethods are the methods FuzzHandler picks from (the last one is not
// a method the API knows).
var fuzzMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"}

// fuzzHeaders are the request headers FuzzHandler may set besides
// Content-Type (Authorization replaces the admin key).
var fuzzHeaders = []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Range",
	"Accept-Encoding", "Origin", "X-Forwarded-For", "Authorization", "Access-Control-Request-Method", "Content-Length"}

// FuzzHandler drives the whole server (server.New over SQLite, as every
// test builds it, with an admin API key) with a method, a path from the
// route list or of the fuzzer's making, a query string, a Content-Type, one
// more header and a body. Whatever the input, the answer is below 500, and
// an error is an RFC 9457 problem.
//
// Without -fuzz (every go test), the seeds below and testdata/fuzz replay
// against SQLite and, when HUB_TEST_POSTGRES_URL is set, PostgreSQL, which
// refuses NUL in text where SQLite stores it. With -fuzz the fuzzer runs
// on SQLite only.
func FuzzHandler(f *testing.F) {
	dbs := []*testenv.DB{testenv.SQLite(f)}
	if fl := flag.Lookup("test.fuzz"); (fl == nil || fl.Value.String() == "") && testenv.PostgresURL() != "" {
		dbs = append(dbs, testenv.Postgres(f))
	}
	spec, err := apitest.V1()
	if err != nil {
		f.Fatal(err)
	}
	var routes, limits []string
	// Routes added after the corpus was recorded go last (below), so that
	// the recorded indices keep their routes.
	late := []string{"/api/v1/users/me/export", "/api/v1/users/me/email/verify", "/api/v1/admin/users/{id}",
		"/api/v2/users/me/export", "/api/v2/users/me/email/verify", "/api/v2/admin/users/{id}",
		"/api/v1/admin/api-keys/{id}/rotate", "/api/v1/admin/anomalies", "/api/v2/admin/api-keys/{id}/rotate", "/api/v2/admin/anomalies",
		"/api/v1/admin/api-keys/{id}/secret", "/api/v2/admin/api-keys/{id}/secret",
		"/api/v1/integrations/connectors", "/api/v1/integrations/connectors/{id}", "/api/v1/integrations/connectors/{id}/check",
		"/api/v1/integrations/connectors/{id}/sync", "/api/v1/integrations/connectors/{id}/sync-logs",
		"/api/v1/integrations/{type}/authorize", "/api/v1/integrations/{type}/callback"}
	seen := map[string]bool{}
	for _, p := range late {
		seen[p] = true
	}
	for _, op := range spec.Operations() {
		if !seen[op.Path] {
			seen[op.Path] = true
			routes = append(routes, op.Path)
		}
		if op.Method != http.MethodHead && !strings.HasSuffix(op.Path, "/openapi.json") {
			limits = append(limits, op.Method+" "+op.Path+"=1000000000/s")
		}
	}
	routes = append(routes, "/healthz", "/readyz", "/docs", "/docs/assets/docs.css", "/metrics", "/", "/api/v2/chantiers")
	// v2 last, so that the indices of the recorded corpus keep their routes.
	specV2, err := apitest.V2()
	if err != nil {
		f.Fatal(err)
	}
	for _, op := range specV2.Operations() {
		if !seen[op.Path] && op.Path != "/api/v2/batch" { // added last, below
			seen[op.Path] = true
			routes = append(routes, op.Path)
		}
		if op.Method != http.MethodHead && !strings.HasSuffix(op.Path, "/openapi.json") {
			limits = append(limits, op.Method+" "+op.Path+"=1000000000/s")
		}
	}
	routes = append(routes, "/docs/migration-v1-v2", "/api/v2/batch")
	routes = append(routes, late...)

	type target struct {
		name    string
		handler http.Handler
		key     string
	}
	var targets []target
	for _, db := range dbs {
		// The fuzz target must not log through f: the server's log goes
		// nowhere, the failures say what went wrong.
		fake := examplefake.New("acme", connectorSecret, 3)
		f.Cleanup(fake.Close)
		env := apitest.Start(f, db, apitest.Config{MaxUploadBytes: testMaxUpload, RateLimits: strings.Join(limits, ";"),
			Logger: slog.New(slog.DiscardHandler), Configure: withConnectors(fake)})
		admin := env.As(hubapi.RoleAdmin)
		// Rows for the {id} routes: id 1 of every resource exists.
		ch := newChantier(f, admin, nil)
		p := newPointage(f, admin, map[string]any{"chantier_id": ch.ID, "statut": "soumis"})
		newSignalement(f, admin, map[string]any{"chantier_id": ch.ID})
		newAffectation(f, admin, map[string]any{"chantier_id": ch.ID, "user_id": p.UserID, "date": "2030-01-07"})
		admin.Upload(f, v1+"/documents", []apitest.Part{{Name: "chantier_id", Body: []byte(itoa(ch.ID))},
			{Name: "file", FileName: "plan.txt", ContentType: "text/plain", Body: []byte("plan")}}).Expect(201)
		admin.Post(f, v1+"/integrations/connectors", newConnectorBody("fuzz")).Expect(201)
		targets = append(targets, target{db.Name, env.Server.Handler, env.Key(hubapi.RoleAdmin)})
	}

	mp := func(parts ...string) (string, []byte) {
		var b bytes.Buffer
		for i := 0; i+1 < len(parts); i += 2 {
			fmt.Fprintf(&b, "--B\r\nContent-Disposition: form-data; %s\r\n\r\n%s\r\n", parts[i], parts[i+1])
		}
		b.WriteString("--B--\r\n")
		return "multipart/form-data; boundary=B", b.Bytes()
	}
	json := "application/json"
	seeds := []struct {
		method      uint8
		route       string // a path template of routes, or a path as is
		path, query string
		ctype       string
		header      uint8
		value       string
		body        []byte
	}{
		{0, "/api/v1/chantiers", "", "", "", 0, "", nil},
		{0, "/api/v1/chantiers", "", "ville=a%00b", "", 0, "", nil},
		{0, "/api/v1/chantiers", "", "ville=%FF%FE", "", 0, "", nil},
		{0, "/api/v1/chantiers", "", "statut=ouvert;limit=1", "", 0, "", nil},
		{0, "/api/v1/chantiers", "", "limit=99999999999999999999999&page=-1", "", 0, "", nil},
		{0, "/api/v1/chantiers", "", "sort=-created_at,nom,%00&fields=id,nom,responsable(nom)", "", 0, "", nil},
		{0, "/api/v1/chantiers", "", "cursor=%00%00&limit=1", "", 0, "", nil},
		{0, "/api/v1/chantiers", "", "date_from=0000-01-01&date_to=9999-12-31", "", 0, "", nil},
		{0, "/api/v1/chantiers", "", "a=%zz", "", 0, "", nil},
		{1, "/api/v1/chantiers", "", "", json, 0, "", []byte(`{"code":"F1","nom":"a\u0000b","adresse":"a"}`)},
		{1, "/api/v1/chantiers", "", "", json, 0, "", []byte("{\"code\":\"F2\",\"nom\":\"caf\xe9\",\"adresse\":\"a\"}")},
		{1, "/api/v1/chantiers", "", "", json, 0, "", []byte(`{"code":"F3","nom":"n","adresse":"a","budget_cents":1e400}`)},
		{1, "/api/v1/chantiers", "", "", json, 0, "", []byte(`{"code":"F4","nom":"n","adresse":"a","budget_cents":99999999999999999999}`)},
		{1, "/api/v1/chantiers", "", "", json, 0, "", []byte(`{"code":"F5","nom":"n","adresse":"a","date_debut":"0000-01-01","latitude":1e308}`)},
		{1, "/api/v1/chantiers", "", "", json, 0, "", []byte(`{"code":"F6","nom":"n","adresse":"a","date_debut":"0001-01-01","date_fin":"9999-12-31"}`)},
		{1, "/api/v1/chantiers", "", "", json, 0, "", []byte(`{"code":"F7","nom":"n\u202e","adresse":"a\u0007","responsable_id":-1}`)},
		{2, "/api/v1/chantiers/{id}", "1", "", json, 0, "\"v1\"", []byte(`{"code":"F8","nom":"n","adresse":"\u0000"}`)},
		{3, "/api/v1/chantiers/{id}", "1", "", "application/merge-patch+json", 0, "*", []byte(`{"ville":"\u0000","description":null}`)},
		{3, "/api/v1/chantiers/{id}", "1", "", "application/merge-patch+json", 0, "", []byte(`{"nom":{"a":{"b":[1,2,{"c":"\u0000"}]}}}`)},
		{4, "/api/v1/chantiers/{id}", "1", "", "", 0, "W/\"v1\"", nil},
		{0, "/api/v1/chantiers/{id}", "99999999999999999999", "", "", 0, "", nil},
		{0, "/api/v1/chantiers/{id}", "%00", "", "", 0, "", nil},
		{0, "/api/v1/chantiers/{id}", "1", "fields=%00", "", 1, "\"v1\", W/\"x\", *", nil},
		{0, "/api/v1/chantiers/{id}", "1", "", "", 2, "Mon, 02 Jan 0000 15:04:05 GMT", nil},
		{2, "/api/v1/chantiers/{id}", "1", "", json, 3, "Fri, 31 Dec 9999 23:59:59 GMT", []byte(`{}`)},
		{0, "/api/v1/documents/1/content", "", "", "", 4, "bytes=0-0,-1,99999999999999999999-", nil},
		{0, "/api/v1/documents/1/content", "", "", "", 4, "bytes=-0", nil},
		{0, "/api/v1/chantiers", "", "", "", 5, "gzip;q=1e999, *;q=0", nil},
		{6, "/api/v1/chantiers", "", "", "", 6, "http://evil.example", nil},
		{0, "/api/v1/chantiers", "", "", "", 7, "1.2.3.4, ::1, %00, 999.1.1.1", nil},
		{0, "/api/v1/chantiers", "", "", "", 8, "Bearer hck_\x00", nil},
		{0, "/api/v1/chantiers", "", "", "", 8, "Basic Og==", nil},
		{0, "/api/v1/planning", "", "from=0000-01-01&to=2030-01-01&user_id=0", "", 0, "", nil},
		{0, "/api/v1/planning", "", "from=2030-01-01&to=2030-01-01;user_id=1", "", 0, "", nil},
		{0, "/api/v1/planning", "", "from=1900-01-01&to=2200-12-31", "", 0, "", nil},
		{0, "/api/v1/pointages", "", "date_from=2030-02-30&user_id=1e3", "", 0, "", nil},
		{1, "/api/v1/admin/api-keys", "", "", json, 0, "", []byte(`{"user_id":1,"name":"k\u0000","scopes":["admin"]}`)},
		{1, "/api/v1/admin/api-keys", "", "", json, 0, "", []byte(`{"user_id":1,"name":"k","scopes":["stats:read\u0000"],"expires_at":"0000-01-01T00:00:00Z"}`)},
		{1, "/api/v1/admin/api-keys", "", "", json, 0, "", []byte(`{"user_id":1,"name":"k","scopes":["stats:read"],"expires_at":"9999-12-31T23:59:59+23:59"}`)},
		{1, "/api/v1/pointages", "", "", json, 0, "", []byte(`{"chantier_id":1,"date":"0001-01-01","minutes":60,"commentaire":"a\u0000"}`)},
		{1, "/api/v1/pointages/1/validate", "", "", "", 0, "", nil},
		{1, "/api/v1/affectations", "", "", json, 0, "", []byte(`{"user_id":1,"chantier_id":1,"date":"2030-01-01","heure_debut":"23:59","heure_fin":"24:00","note":"\u0000"}`)},
		{1, "/api/v1/signalements", "", "", json, 0, "", []byte(`{"chantier_id":1,"titre":"t","assigned_to":9223372036854775807}`)},
		{1, "/api/v1/chantiers", "", "", json, 0, "", []byte(`{"code":"F9","nom":"n","adresse":"a","responsable_id":9223372036854775807,"latitude":-0}`)},
		{1, "/api/v1/chantiers", "", "", json, 10, "999999999999", []byte(`{}`)},
		{0, "/api/v1/chantiers/1/../../v1/stats", "", "", "", 0, "", nil},
		{0, "/api/v1//chantiers", "", "", "", 0, "", nil},
		{7, "/api/v1/chantiers", "", "", "", 0, "", nil},
		{5, "/api/v1/chantiers/{id}", "1", "", "", 0, "", nil},
		{1, "/graphql", "", "", json, 0, "", []byte(`{"query":"{ chantiers(first: 3) { nodes { id responsable { nom } } pageInfo { endCursor } } }"}`)},
		{1, "/graphql", "", "", json, 0, "", []byte(`{"query":"mutation($i: ChantierInput!) { createChantier(input: $i) { id } }","variables":{"i":{"code":"G\u0000","nom":"n","adresse":"a","dateDebut":"0000-01-01","responsableId":"-1"}}}`)}, // #nosec G101 -- not a credential
		{1, "/graphql", "", "", json, 0, "", []byte(`{"query":"{ chantiers(first: 100, after: \"%00\") { edges { node { id } } } }","operationName":7}`)},
		{0, "/graphql", "", "query=%7B%20me%20%7B%20id%20%7D%20%7D&variables=%7B", "", 0, "", nil},
		{0, "/graphql", "", "%", "", 0, "", nil},
		{0, "/graphql", "", "extensions=%7B%22persistedQuery%22%3A%7B%22version%22%3A1%2C%22sha256Hash%22%3A%22zz%22%7D%7D", "", 0, "", nil},
		{1, "/api/v2/chantiers", "", "", json, 0, "", []byte(`{"code":"F10","name":"n","location":"a","nom":"x"}`)},
		{1, "/api/v2/chantiers", "", "", json, 0, "", []byte(`{"code":"F11","name":"n","location":"a","name":"dup"}`)},
		{1, "/api/v2/chantiers", "", "", json, 0, "", []byte(`{"code":"F12","name":"n","location":"\u0000"} trailing`)},
		{3, "/api/v2/chantiers/{id}", "1", "", "application/merge-patch+json", 0, "", []byte(`{"postalCode":null,"createdAt":"x"}`)},
		{0, "/api/v2/chantiers", "", "sort=-name,nom,%00&fields=id,name,manager(lastName)&page=2", "", 0, "", nil},
		{0, "/api/v2/chantiers/{id}", "1", "fields=manager(nom),name", "", 0, "", nil},
		{0, "/api/v2/pointages", "", "dateFrom=2030-02-30&userId=1e3&date_from=x", "", 0, "", nil},
		{1, "/api/v2/documents", "", "", "multipart/form-data; boundary=B", 0, "", []byte("--B\r\nContent-Disposition: form-data; name=\"nom\"\r\n\r\nx\r\n--B--\r\n")},
		{0, "/api/v2/planning", "", "from=2030-01-01&to=2030-01-31&user_id=1", "", 0, "", nil},
		{1, "/api/v2/batch", "", "", json, 0, "", []byte(`{"operations":[{"id":"a","method":"POST","path":"/chantiers","body":{"code":"FB1","name":"n","location":"a"}},{"method":"GET","path":"/chantiers/{a.body.id}?fields=id,name","dependsOn":["a"]}]}`)},
		{1, "/api/v2/batch", "", "", json, 0, "", []byte(`{"atomic":true,"operations":[{"method":"GET","path":"/users/me"},{"method":"GET","path":"/api/v1/chantiers"}]}`)},
		{1, "/api/v2/batch", "", "", json, 0, "", []byte(`{"operations":[{"id":"x","method":"GET","path":"/users/me"},{"method":"GET","path":"/users/me","depends_on":["x"]}]}`)},
		{1, "/api/v2/batch", "", "", json, 0, "", []byte(`{"atomic":true,"operations":[{"id":"g","method":"GET","path":"/chantiers/1"},{"method":"PATCH","path":"/chantiers/{g.body.id}","headers":{"If-Match":"{g.headers.ETag}"},"body":{"name":"\u0000","postalCode":{"$ref":"g.body.manager"}}}]}`)},
		{1, "/api/v2/batch", "", "", json, 0, "", []byte(`{"parallel":true,"operations":[{"method":"GET","path":"/documents/1/content"},{"method":"GET","path":"/chantiers/{op1.bodyEncoding}"},{"method":"POST","path":"/batch","body":{}}]}`)},
		{1, "/api/v1/batch", "", "", json, 0, "", []byte(`{"operations":[{"method":"GET","path":"/api/v2/users/me","dependsOn":[]}]}`)},
		{3, "/api/v1/users/me", "", "", "application/merge-patch+json", 0, "", []byte(`{"nom":"\u0000","email":{"a":1}}`)},
		{3, "/api/v1/users/me", "", "", "application/merge-patch+json", 0, "\"v999\"", []byte(`{"prenom":null,"email":"a@b\u202e.fr","role":"admin"}`)},
		{3, "/api/v1/users/me", "", "", json, 0, "", []byte(`{"email":"` + strings.Repeat("a", 300) + `@exemple.fr"}`)},
		{1, "/api/v1/users/me/email/verify", "", "", json, 0, "", []byte(`{"token":"hcv_` + strings.Repeat("\u00e9", 200) + `"}`)},
		{1, "/api/v1/users/me/email/verify", "", "", json, 0, "", []byte(`{"token":["hcv_x"]}`)},
		{0, "/api/v1/users/me/export", "", "fields=id&x=%00", "", 0, "", nil},
		{4, "/api/v1/admin/users/{id}", "99999999999999999999", "", "", 0, "", nil},
		{4, "/api/v1/admin/users/{id}", "-1", "", "", 0, "", nil},
		{1, "/api/v1/integrations/connectors", "", "", json, 0, "", []byte(`{"type":"example","name":"a\u0000","settings":{"account":"\u0000"},"secrets":{"api_key":1}}`)},
		{1, "/api/v1/integrations/connectors", "", "", json, 0, "", []byte(`{"type":"` + strings.Repeat("x", 5000) + `","name":"n","settings":{"` + strings.Repeat("k", 300) + `":"v"}}`)},
		{1, "/api/v1/integrations/connectors", "", "", json, 0, "", []byte(`{"type":"example","name":"n","settings":{"account":"a"},"secrets":{"api_key":"k","__proto__":"x"}}`)},
		{2, "/api/v1/integrations/connectors/{id}", "1", "", json, 0, "\"v1\"", []byte(`{"name":"n","type":"example","settings":null,"secrets":{"api_key":"••••"}}`)},
		{0, "/api/v1/integrations/connectors", "", "type=%00&user_id=-1&sort=-started_at", "", 0, "", nil},
		{0, "/api/v1/integrations/connectors/{id}/sync-logs", "1", "cursor=%00&limit=0", "", 0, "", nil},
		{1, "/api/v1/integrations/connectors/{id}/check", "1", "x=1", "", 0, "", nil},
		{1, "/api/v1/integrations/connectors/{id}/sync", "99999999999999999999", "", "", 0, "", nil},
		{0, "/api/v1/integrations/{type}/authorize", "example", "connector_id=1", "", 0, "", nil},
		{0, "/api/v1/integrations/{type}/callback", "%00", "code=%00&state=" + strings.Repeat("s", 300), "", 0, "", nil},
		{0, "/api/v1/integrations/{type}/callback", "example", "error=access_denied&error_description=%FF", "", 0, "", nil},
		{3, "/api/v2/users/me", "", "", "application/merge-patch+json", 0, "", []byte(`{"lastName":"x","nom":"y"}`)},
		{0, "/api/v2/users/me/export", "", "", "", 0, "", nil},
		// API key security: allow-lists, rotation, anomalies
		{1, "/api/v1/admin/api-keys", "", "", json, 0, "", []byte(`{"user_id":1,"name":"k","scopes":["stats:read"],"ip_allowlist":["10.0.0.0/33","::ffff:1.2.3.4/200","","1.2.3.4%eth0"]}`)},
		{1, "/api/v1/admin/api-keys", "", "", json, 0, "", []byte(`{"user_id":1,"name":"k","scopes":["stats:read"],"ip_allowlist":[1],"auto_rotate":"yes","rotation_interval_days":-1}`)},
		{3, "/api/v1/admin/api-keys/{id}", "1", "", "application/merge-patch+json", 0, "", []byte(`{"ip_allowlist":[null,"\u0000"],"rotation_interval_days":1e99,"name":null}`)},
		{3, "/api/v2/admin/api-keys/{id}", "1", "", "application/merge-patch+json", 0, "", []byte(`{"ipAllowlist":null,"ip_allowlist":[],"autoRotate":null}`)},
		{1, "/api/v1/admin/api-keys/{id}/rotate", "99999999999999999999", "", "", 0, "", nil},
		{0, "/api/v1/admin/anomalies", "", "api_key_id=-1&rule=%00&state=x", "", 0, "", nil},
		{1, "/api/v1/admin/api-keys/{id}/secret", "1", "x=1", "", 0, "", nil},
		{0, "/api/v2/admin/anomalies", "", "apiKeyId=1&rule=scanning_behavior&state=open&state=all", "", 0, "", nil},
	}
	routeIndex := func(route string) uint8 {
		for i, r := range routes {
			if r == route {
				return uint8(i) // #nosec G115 -- fewer than 256 routes
			}
		}
		f.Fatalf("no route %s", route)
		return 0
	}
	for _, s := range seeds {
		if strings.Contains(s.route, "{id}") {
			f.Add(s.method, routeIndex(s.route), s.path, s.query, s.ctype, s.header, s.value, s.body)
		} else {
			// the path as is
			f.Add(s.method, uint8(0), s.route, s.query, s.ctype, s.header, s.value, s.body)
		}
	}
	for _, parts := range [][]string{
		{`name="chantier_id"`, "1", `name="nom"`, "a\x00b", `name="file"; filename="a.txt"`, "x"},
		{`name="chantier_id"`, "1", `name="file"; filename="a` + "\xff" + `.txt"`, "x"},
		{`name="chantier_id"`, "1", `name="file"; filename="facture` + "\u202e" + `fdp.exe"`, "x"},
		{`name="chantier_id"`, "1", `name="categorie"`, "plan\x00", `name="file"; filename="a.txt"`, "x"},
		{`name="chantier_id"`, "99999999999999999999", `name="file"; filename="a.txt"`, "x"},
		{`name="chantier_id"`, "1", `name="file"; filename="a.txt"`, strings.Repeat("x", testMaxUpload+1)},
		{`name="chantier_id"`, "1", `name="file"; filename="a.txt"`, "x", `name="file"; filename="b.txt"`, "y"},
	} {
		ct, body := mp(parts...)
		f.Add(uint8(1), uint8(0), "/api/v1/documents", "", ct, uint8(0), "", body)
	}

	f.Fuzz(func(t *testing.T, method, route uint8, path, query, ctype string, header uint8, value string, body []byte) {
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		// A path starting with "/" is taken as is; anything else stands
		// for the {id} of the chosen route.
		p := path
		if !strings.HasPrefix(path, "/") {
			p = routes[int(route)%len(routes)]
			if path == "" {
				path = "1"
			}
			p = strings.ReplaceAll(p, "{id}", path)
		}
		h := fuzzHeaders[int(header)%len(fuzzHeaders)]
		for _, tg := range targets {
			// The request as net/http's server would hand it over: a
			// request line and headers that it cannot parse never reach
			// the handler (it answers 400 itself).
			var raw bytes.Buffer
			target := p
			if query != "" {
				target += "?" + query
			}
			fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: hub.test\r\nAuthorization: Bearer %s\r\n", m, target, tg.key)
			if ctype != "" {
				fmt.Fprintf(&raw, "Content-Type: %s\r\n", ctype)
			}
			switch h {
			case "Content-Length":
				fmt.Fprintf(&raw, "Content-Length: %s\r\n", value)
			case "Authorization":
				raw.Reset()
				fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: hub.test\r\nAuthorization: %s\r\n", m, target, value)
				if ctype != "" {
					fmt.Fprintf(&raw, "Content-Type: %s\r\n", ctype)
				}
			default:
				if value != "" {
					fmt.Fprintf(&raw, "%s: %s\r\n", h, value)
				}
			}
			if h != "Content-Length" {
				fmt.Fprintf(&raw, "Content-Length: %d\r\n", len(body))
			}
			raw.WriteString("\r\n")
			raw.Write(body)
			req, err := http.ReadRequest(bufio.NewReader(&raw))
			if err != nil || !validRequest(req) {
				t.Skip("net/http would refuse this request itself")
			}
			req.RemoteAddr = "127.0.0.1:40000"
			rec := httptest.NewRecorder()
			tg.handler.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode >= 500 {
				t.Fatalf("%s: %s %q → %d\n%s", tg.name, m, target, res.StatusCode, rec.Body.Bytes())
			}
			if res.StatusCode >= 400 {
				mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
				if req.URL.Path == "/graphql" && (mt == "application/json" || mt == "application/graphql-response+json") {
					// GraphQL over HTTP answers request errors in its own
					// format: a JSON object with errors
					var gr struct{ Errors []encjson.RawMessage }
					if err := encjson.Unmarshal(rec.Body.Bytes(), &gr); err != nil || len(gr.Errors) == 0 {
						t.Fatalf("%s: %s %q → %d without GraphQL errors: %s", tg.name, m, target, res.StatusCode, rec.Body.Bytes())
					}
					return
				}
				if mt != problem.ContentType {
					t.Fatalf("%s: %s %q → %d with Content-Type %q, not a problem", tg.name, m, target, res.StatusCode, res.Header.Get("Content-Type"))
				}
			}
		}
	})
}

// validRequest reports whether net/http's server would pass req to a
// handler (http.ReadRequest is more lenient than the server on a few
// points).
func validRequest(req *http.Request) bool {
	if req.Host == "" || req.URL == nil || req.URL.Path == "" || req.URL.Path[0] != '/' {
		return false
	}
	for k, vs := range req.Header {
		if k == "" {
			return false
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
					return false
				}
			}
		}
	}
	if _, err := strconv.ParseInt(req.Header.Get("Content-Length"), 10, 64); req.Header.Get("Content-Length") != "" && err != nil {
		return false
	}
	return true
}
