package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/problem"
)

// TestHostileInput sends what a hostile or careless client sends: NUL
// bytes, invalid UTF-8, control and bidirectional characters, dates out of
// range, malformed query strings and oversized uploads. Each gets a 4xx
// problem naming what is wrong, on every database (PostgreSQL refuses NUL
// in text, SQLite does not).
func TestHostileInput(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{MaxUploadBytes: testMaxUpload, RateLimits: apitest.LiftedRateLimits})
		admin := env.As(hubapi.RoleAdmin)
		ch := newChantier(t, admin, nil)
		chantierID := itoa(ch.ID)
		unchecked := apitest.Unchecked("the document describes types and lengths, not the text rules under test")

		t.Run("NUL or invalid UTF-8 in a query parameter → 400 invalid-query naming it", func(t *testing.T) {
			for _, q := range []string{"ville=a%00b", "ville=%FF", "statut=%00", "cursor=%00", "sort=%00nom", "fields=id%00"} {
				name, _, _ := strings.Cut(q, "=")
				admin.Get(t, v1+"/chantiers?"+q, unchecked).FieldProblem(400, "invalid-query", name)
			}
			admin.Get(t, v1+"/pointages?date_from=%00", unchecked).FieldProblem(400, "invalid-query", "date_from")
			admin.Get(t, v1+"/planning?from=2030-01-01&to=2030-01-02&user_id=%FF", unchecked).FieldProblem(400, "invalid-query", "user_id")
			admin.Get(t, v1+"/admin/api-keys?user_id=1%00", unchecked).FieldProblem(400, "invalid-query", "user_id")
			admin.Get(t, v1+"/chantiers?a%00b=1", unchecked).Problem(400, "invalid-query")
		})

		t.Run("a ';' or a malformed escape in the query → 400 invalid-query", func(t *testing.T) {
			// url.ParseQuery refuses both; r.URL.Query() would silently
			// drop the pair and answer as if it had not been sent.
			for _, path := range []string{
				v1 + "/chantiers?statut=ouvert;limit=1",
				v1 + "/chantiers?limit=1;",
				v1 + "/planning?from=2030-01-01;to=2030-01-02",
				v1 + "/chantiers?ville=%zz",
				v1 + "/chantiers/" + chantierID + "?fields=id;nom",
				v1 + "/stats?;",
			} {
				p := rawDo(t, env, http.MethodGet, path, env.Key(hubapi.RoleAdmin), nil, nil).problem(t, 400, "invalid-query")
				if strings.Contains(path, ";") && !strings.Contains(p.Detail, "';'") {
					t.Errorf("GET %s: detail %q does not name the ';'", path, p.Detail)
				}
			}
			// an encoded ';' is data
			admin.Get(t, v1+"/chantiers?ville=a%3Bb").Expect(200)
		})

		t.Run("NUL in a JSON string → 422 naming the member, on every write", func(t *testing.T) {
			admin.Post(t, v1+"/chantiers", map[string]any{"code": uniq("NUL-"), "nom": "a\x00b", "adresse": "a"}, unchecked).
				FieldProblem(422, "validation-error", "nom")
			admin.Post(t, v1+"/chantiers", map[string]any{"code": uniq("NUL-"), "nom": "n", "adresse": "a", "description": "x\x00"}, unchecked).
				FieldProblem(422, "validation-error", "description")
			admin.Put(t, idPath("chantiers", ch.ID), map[string]any{"code": ch.Code, "nom": "n", "adresse": "\x00"}, unchecked).
				FieldProblem(422, "validation-error", "adresse")
			admin.Patch(t, idPath("chantiers", ch.ID), map[string]any{"ville": "\x00"}, unchecked).
				FieldProblem(422, "validation-error", "ville")
			admin.Post(t, v1+"/signalements", map[string]any{"chantier_id": ch.ID, "titre": "\x00"}, unchecked).
				FieldProblem(422, "validation-error", "titre")
			admin.Post(t, v1+"/admin/api-keys", map[string]any{"user_id": env.User(hubapi.RoleAdmin).ID, "name": "k\x00", "scopes": []string{"stats:read"}}, unchecked).
				FieldProblem(422, "validation-error", "name")
			admin.Post(t, v1+"/admin/api-keys", map[string]any{"user_id": env.User(hubapi.RoleAdmin).ID, "name": "k", "scopes": []string{"stats:read\x00"}}, apitest.Invalid()).
				FieldProblem(422, "validation-error", "scopes")
		})

		t.Run("invalid UTF-8 in a JSON body → 400 malformed-json, never altered", func(t *testing.T) {
			body := []byte(`{"code":"` + uniq("UTF-") + `","nom":"caf` + "\xe9" + `","adresse":"a"}`)
			admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/json", body), unchecked).Problem(400, "malformed-json")
			admin.Patch(t, idPath("chantiers", ch.ID), nil, apitest.Raw("application/merge-patch+json", []byte("{\"nom\":\"\xff\"}")), unchecked).
				Problem(400, "malformed-json")
		})

		t.Run("control characters: refused in single-line text, tab and line breaks allowed in multi-line text", func(t *testing.T) {
			admin.Post(t, v1+"/chantiers", map[string]any{"code": uniq("CC-"), "nom": "a\x07b", "adresse": "a"}, unchecked).
				FieldProblem(422, "validation-error", "nom")
			admin.Post(t, v1+"/chantiers", map[string]any{"code": uniq("CC-"), "nom": "a\nb", "adresse": "a"}, unchecked).
				FieldProblem(422, "validation-error", "nom")
			admin.Post(t, v1+"/chantiers", map[string]any{"code": uniq("CC-"), "nom": "n", "adresse": "a\u0085b"}, unchecked).
				FieldProblem(422, "validation-error", "adresse")
			admin.Post(t, v1+"/chantiers", map[string]any{"code": uniq("CC-"), "nom": "n", "adresse": "a", "description": "ligne\x1b[31m"}, unchecked).
				FieldProblem(422, "validation-error", "description")
			c := newChantier(t, admin, map[string]any{"description": "ligne 1\r\nligne 2\n\tretrait \u202bעברית\u202c"})
			if !strings.Contains(c.Description, "\n\t") {
				t.Errorf("multi-line description altered: %q", c.Description)
			}
			admin.Post(t, v1+"/signalements", map[string]any{"chantier_id": ch.ID, "titre": "fuite\u202Egnp.exe"}, unchecked).
				FieldProblem(422, "validation-error", "titre")
		})

		t.Run("document names and file names: NUL, invalid UTF-8, controls and bidi overrides → 422 naming the part", func(t *testing.T) {
			file := func(name string) apitest.Part {
				return apitest.Part{Name: "file", FileName: name, ContentType: "text/plain", Body: []byte("a")}
			}
			cid := apitest.Part{Name: "chantier_id", Body: []byte(chantierID)}
			for name, tc := range map[string]struct {
				parts []apitest.Part
				field string
			}{
				"NUL in nom":                     {[]apitest.Part{cid, file("a.txt"), {Name: "nom", Body: []byte("a\x00b")}}, "nom"},
				"invalid UTF-8 in nom":           {[]apitest.Part{cid, file("a.txt"), {Name: "nom", Body: []byte("a\xffb")}}, "nom"},
				"NUL in categorie":               {[]apitest.Part{cid, file("a.txt"), {Name: "categorie", Body: []byte("plan\x00")}}, "categorie"},
				"NUL in chantier_id":             {[]apitest.Part{{Name: "chantier_id", Body: []byte(chantierID + "\x00")}, file("a.txt")}, "chantier_id"},
				"control character in nom":       {[]apitest.Part{cid, file("a.txt"), {Name: "nom", Body: []byte("a\x1bb")}}, "nom"},
				"bidi override in nom":           {[]apitest.Part{cid, file("a.txt"), {Name: "nom", Body: []byte("facture\u202Efdp.exe")}}, "nom"},
				"bidi isolate in nom":            {[]apitest.Part{cid, file("a.txt"), {Name: "nom", Body: []byte("a\u2067b")}}, "nom"},
				"NUL in the file name":           {[]apitest.Part{cid, file("a\x00.txt")}, "file"},
				"invalid UTF-8 in the file name": {[]apitest.Part{cid, file("a\xff.txt")}, "file"},
				"bidi override in the file name": {[]apitest.Part{cid, file("facture\u202Efdp.exe")}, "file"},
				"line break in the file name":    {[]apitest.Part{cid, file("a\nb.txt")}, "file"},
			} {
				t.Run(name, func(t *testing.T) {
					admin.Upload(t, v1+"/documents", tc.parts, unchecked).FieldProblem(422, "validation-error", tc.field)
				})
			}
			var d hubapi.Document
			admin.Upload(t, v1+"/documents", []apitest.Part{cid, file("relevé été.txt")}).Expect(201).JSON(&d)
			if d.Nom != "relevé été.txt" {
				t.Errorf("nom %q", d.Nom)
			}
			admin.Patch(t, idPath("documents", d.ID), map[string]any{"nom": "x\u2066y"}, unchecked).FieldProblem(422, "validation-error", "nom")
		})

		t.Run("dates outside 1900-01-01..2200-12-31 → 422 naming the field or parameter", func(t *testing.T) {
			for _, date := range []string{"0000-01-01", "0001-01-01", "1899-12-31", "2201-01-01", "9999-12-31"} {
				admin.Post(t, v1+"/chantiers", map[string]any{"code": uniq("D-"), "nom": "n", "adresse": "a", "date_debut": date}, unchecked).
					FieldProblem(422, "validation-error", "date_debut")
				admin.Post(t, v1+"/pointages", map[string]any{"chantier_id": ch.ID, "date": date, "minutes": 60}, unchecked).
					FieldProblem(422, "validation-error", "date")
				admin.Post(t, v1+"/affectations", map[string]any{"user_id": env.User(hubapi.RoleAdmin).ID, "chantier_id": ch.ID, "date": date}, unchecked).
					FieldProblem(422, "validation-error", "date")
				admin.Get(t, v1+"/pointages?date_from="+date, unchecked).FieldProblem(422, "validation-error", "date_from")
				admin.Get(t, v1+"/affectations?date_to="+date, unchecked).FieldProblem(422, "validation-error", "date_to")
				admin.Get(t, v1+"/planning?from="+date+"&to=2030-01-01", unchecked).FieldProblem(422, "validation-error", "from")
				admin.Get(t, v1+"/planning?from=2030-01-01&to="+date, unchecked).FieldProblem(422, "validation-error", "to")
				admin.Post(t, v1+"/admin/api-keys", map[string]any{"user_id": env.User(hubapi.RoleAdmin).ID, "name": "k",
					"scopes": []string{"stats:read"}, "expires_at": date + "T00:00:00Z"}, unchecked).FieldProblem(422, "validation-error", "expires_at")
			}
			newChantier(t, admin, map[string]any{"date_debut": "1900-01-01", "date_fin": "2200-12-31"})
			admin.Get(t, v1+"/pointages?date_from=1900-01-01&date_to=2200-12-31").Expect(200)
		})

		t.Run("/planning errors name the query parameters", func(t *testing.T) {
			p := admin.Get(t, v1+"/planning?from=2030-01-01", apitest.Invalid()).FieldProblem(422, "validation-error", "to")
			if _, ok := p.Field("from"); ok {
				t.Errorf("from is given and valid, yet named: %+v", p.Errors)
			}
			if !strings.Contains(p.Detail, "query") {
				t.Errorf("detail %q speaks of a body", p.Detail)
			}
			admin.Get(t, v1+"/planning?from=2030-13-01&to=x", apitest.Invalid()).FieldProblem(400, "invalid-query", "from", "to")
			admin.Get(t, v1+"/planning?from=2030-01-01&to=2030-01-02&user_id=0", apitest.Invalid()).FieldProblem(400, "invalid-query", "user_id")
			admin.Get(t, v1+"/planning?from=2030-01-01&to=2030-01-02&date_from=2030-01-01", apitest.Invalid()).FieldProblem(400, "invalid-query", "date_from")
		})

		t.Run("oversized uploads → 413 problem, however the body comes", func(t *testing.T) {
			over := bytes.Repeat([]byte("x"), testMaxUpload+128<<10)
			body, ct := multipartBody(t, map[string]string{"chantier_id": chantierID}, "big.bin", over)
			key := env.Key(hubapi.RoleAdmin)
			t.Run("Content-Length over the limit", func(t *testing.T) {
				rawDo(t, env, http.MethodPost, v1+"/documents", key, http.Header{"Content-Type": {ct}}, bytes.NewReader(body)).
					problem(t, 413, "body-too-large")
			})
			t.Run("chunked, no Content-Length", func(t *testing.T) {
				// io.MultiReader hides the length: the client sends chunks.
				rawDo(t, env, http.MethodPost, v1+"/documents", key, http.Header{"Content-Type": {ct}}, io.MultiReader(bytes.NewReader(body))).
					problem(t, 413, "body-too-large")
			})
			t.Run("a file part one byte over, the body within the framing allowance", func(t *testing.T) {
				body, ct := multipartBody(t, map[string]string{"chantier_id": chantierID}, "big.bin", make([]byte, testMaxUpload+1))
				rawDo(t, env, http.MethodPost, v1+"/documents", key, http.Header{"Content-Type": {ct}}, io.MultiReader(bytes.NewReader(body))).
					problem(t, 413, "body-too-large")
			})
			t.Run("a chunked JSON body over 1 MiB", func(t *testing.T) {
				big := `{"code":"BIG","nom":"n","adresse":"a","description":"` + strings.Repeat("x", 1<<20) + `"}`
				rawDo(t, env, http.MethodPost, v1+"/chantiers", key, http.Header{"Content-Type": {"application/json"}}, io.MultiReader(strings.NewReader(big))).
					problem(t, 413, "body-too-large")
			})
		})
	})
}

// rawResponse is a response of a request sent without the document checks
// (requests the OpenAPI tooling cannot even build: a raw ';', chunked
// bodies).
type rawResponse struct {
	status int
	header http.Header
	body   []byte
	name   string
}

func rawDo(t *testing.T, env *apitest.Env, method, path, key string, h http.Header, body io.Reader) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawResponse{res.StatusCode, res.Header, b, method + " " + path}
}

func (r rawResponse) problem(t *testing.T, status int, code string) apitest.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", r.name, r.status, status, r.body)
	}
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != problem.ContentType {
		t.Fatalf("%s: Content-Type %q", r.name, r.header.Get("Content-Type"))
	}
	var p apitest.Problem
	if err := json.Unmarshal(r.body, &p); err != nil || p.Code() != code || p.Status != status {
		t.Fatalf("%s: problem %s, want %s (%v)", r.name, r.body, code, err)
	}
	return p
}

// multipartBody builds a multipart/form-data body with text parts and one
// file part.
func multipartBody(t *testing.T, values map[string]string, fileName string, content []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range values {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "file", "filename": fileName}))
	h.Set("Content-Type", "application/octet-stream")
	w, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(content)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}
