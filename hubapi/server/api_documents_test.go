package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

func testDocuments(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	chef := env.As(hubapi.RoleChefChantier)
	ch := newChantier(t, admin, nil)
	content := bytes.Repeat([]byte("Plan du rez-de-chaussée.\n"), 100)
	sum := sha256.Sum256(content)
	wantSHA := hex.EncodeToString(sum[:])
	chantierID := itoa(ch.ID)

	var doc hubapi.Document
	t.Run("upload: multipart → 201 with size and SHA-256 of the content", func(t *testing.T) {
		r := chef.Upload(t, v1+"/documents", []apitest.Part{
			{Name: "chantier_id", Body: []byte(chantierID)},
			{Name: "categorie", Body: []byte("plan")},
			{Name: "file", FileName: "plan-rdc.txt", ContentType: "text/plain; charset=utf-8", Body: content},
		}).Expect(201)
		r.JSON(&doc)
		if doc.SHA256 != wantSHA || doc.Size != int64(len(content)) || doc.Nom != "plan-rdc.txt" || doc.Categorie != "plan" ||
			doc.MimeType != "text/plain" || doc.ChantierID != ch.ID || doc.UploadedBy != env.User(hubapi.RoleChefChantier).ID {
			t.Errorf("uploaded %+v, want sha %s size %d", doc, wantSHA, len(content))
		}
		if r.Header.Get("Location") != idPath("documents", doc.ID) || r.ETag() != `"v1"` {
			t.Errorf("Location %q ETag %q", r.Header.Get("Location"), r.ETag())
		}
	})

	t.Run("metadata read back", func(t *testing.T) {
		var got hubapi.Document
		if r := env.As(hubapi.RoleCompagnon).Get(t, idPath("documents", doc.ID)).Expect(200).JSON(&got); got != doc || r.ETag() != `"v1"` {
			t.Errorf("read back %+v (ETag %s), want %+v", got, r.ETag(), doc)
		}
	})

	t.Run("download returns the exact bytes with their digest", func(t *testing.T) {
		r := admin.Get(t, idPath("documents", doc.ID)+"/content").Expect(200)
		if !bytes.Equal(r.Body, content) {
			t.Fatalf("content differs: %d bytes", len(r.Body))
		}
		if r.ETag() != `"`+wantSHA+`"` || r.Header.Get("Digest") != "sha-256="+wantSHA ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") ||
			r.Header.Get("Content-Disposition") != `attachment; filename=plan-rdc.txt` {
			t.Errorf("headers %v", r.Header)
		}
		got := sha256.Sum256(r.Body)
		if hex.EncodeToString(got[:]) != doc.SHA256 {
			t.Error("recorded sha256 does not match the downloaded content")
		}
	})

	t.Run("download supports ranges and conditional requests", func(t *testing.T) {
		p := idPath("documents", doc.ID) + "/content"
		r := admin.Get(t, p, apitest.Header("Range", "bytes=0-3")).Expect(206)
		if string(r.Body) != "Plan" || r.Header.Get("Content-Range") != "bytes 0-3/"+itoa(int64(len(content))) {
			t.Errorf("range: %q %q", r.Body, r.Header.Get("Content-Range"))
		}
		admin.Get(t, p, apitest.Header("If-None-Match", `"`+wantSHA+`"`)).Expect(304)
		admin.Get(t, p, apitest.Header("If-Match", `"0000"`)).Expect(412)
		admin.Get(t, p, apitest.Header("Range", "bytes=999999-")).Expect(416)
	})

	t.Run("nom defaults to the file name; binary content and media type are kept", func(t *testing.T) {
		bin := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff, '{', '}'}
		var d hubapi.Document
		chef.Upload(t, v1+"/documents", []apitest.Part{
			{Name: "file", FileName: "../../photo.png", ContentType: "image/png", Body: bin},
			{Name: "chantier_id", Body: []byte(chantierID)},
			{Name: "nom", Body: []byte("Façade nord.png")},
		}).Expect(201).JSON(&d)
		if d.Nom != "Façade nord.png" || d.MimeType != "image/png" || d.Categorie != "autre" || d.Size != int64(len(bin)) {
			t.Errorf("uploaded %+v", d)
		}
		r := admin.Get(t, idPath("documents", d.ID)+"/content").Expect(200)
		if !bytes.Equal(r.Body, bin) {
			t.Errorf("content %x", r.Body)
		}
		var j hubapi.Document
		chef.Upload(t, v1+"/documents", []apitest.Part{
			{Name: "file", FileName: "../etc/data.json", ContentType: "application/json", Body: []byte(`{"a":1}`)},
			{Name: "chantier_id", Body: []byte(chantierID)},
		}).Expect(201).JSON(&j)
		if j.Nom != "data.json" || j.MimeType != "application/json" {
			t.Errorf("uploaded %+v", j)
		}
	})

	t.Run("size limit: a byte over the limit → 413, far over → 413", func(t *testing.T) {
		over := make([]byte, testMaxUpload+1)
		chef.Upload(t, v1+"/documents", []apitest.Part{
			{Name: "chantier_id", Body: []byte(chantierID)},
			{Name: "file", FileName: "big.bin", ContentType: "application/octet-stream", Body: over},
		}).Problem(413, "body-too-large")
		exact := make([]byte, testMaxUpload)
		chef.Upload(t, v1+"/documents", []apitest.Part{
			{Name: "chantier_id", Body: []byte(chantierID)},
			{Name: "file", FileName: "exact.bin", ContentType: "application/octet-stream", Body: exact},
		}).Expect(201)
		huge := make([]byte, testMaxUpload+128<<10)
		chef.Upload(t, v1+"/documents", []apitest.Part{
			{Name: "chantier_id", Body: []byte(chantierID)},
			{Name: "file", FileName: "huge.bin", ContentType: "application/octet-stream", Body: huge},
		}).Problem(413, "body-too-large")
	})

	t.Run("bad uploads → 4xx naming the part", func(t *testing.T) {
		file := apitest.Part{Name: "file", FileName: "a.txt", ContentType: "text/plain", Body: []byte("a")}
		cid := apitest.Part{Name: "chantier_id", Body: []byte(chantierID)}
		chef.Upload(t, v1+"/documents", []apitest.Part{cid}, apitest.Invalid()).FieldProblem(422, "validation-error", "file")
		chef.Upload(t, v1+"/documents", []apitest.Part{cid, file, file}, apitest.Unchecked("a second file part is an array the document cannot forbid per part")).
			FieldProblem(422, "validation-error", "file")
		chef.Upload(t, v1+"/documents", []apitest.Part{file}, apitest.Invalid()).FieldProblem(422, "validation-error", "chantier_id")
		chef.Upload(t, v1+"/documents", []apitest.Part{file, {Name: "chantier_id", Body: []byte("abc")}}, apitest.Invalid()).
			FieldProblem(422, "validation-error", "chantier_id")
		chef.Upload(t, v1+"/documents", []apitest.Part{file, {Name: "chantier_id", Body: []byte("987654321")}}).
			FieldProblem(422, "validation-error", "chantier_id")
		chef.Upload(t, v1+"/documents", []apitest.Part{file, cid, {Name: "categorie", Body: []byte("secret")}}, apitest.Invalid()).
			FieldProblem(422, "validation-error", "categorie")
		chef.Upload(t, v1+"/documents", []apitest.Part{file, cid, {Name: "owner", Body: []byte("1")}}, apitest.Invalid()).
			Problem(400, "unknown-field")
		chef.Post(t, v1+"/documents", nil, apitest.Raw("multipart/form-data; boundary=xyz", []byte("garbage")), apitest.Invalid()).
			Problem(400, "malformed-multipart")
	})

	t.Run("metadata: PUT, PATCH, list filters; DELETE removes the content", func(t *testing.T) {
		other := newChantier(t, admin, nil)
		var d hubapi.Document
		chef.Put(t, idPath("documents", doc.ID), map[string]any{"chantier_id": other.ID, "nom": "plan-v2.txt"}).Expect(200).JSON(&d)
		if d.ChantierID != other.ID || d.Nom != "plan-v2.txt" || d.Categorie != "autre" || d.SHA256 != wantSHA || d.Version != 2 {
			t.Errorf("after PUT %+v", d)
		}
		chef.Patch(t, idPath("documents", doc.ID), map[string]any{"categorie": "contrat"}).Expect(200).JSON(&d)
		if d.Categorie != "contrat" || d.Nom != "plan-v2.txt" {
			t.Errorf("after PATCH %+v", d)
		}
		l := list[hubapi.Document](t, admin, v1+"/documents?chantier_id="+itoa(other.ID)+"&categorie=contrat&sort=-size")
		if len(l.Data) != 1 || l.Data[0].ID != doc.ID {
			t.Errorf("list %+v", l)
		}
		chef.Delete(t, idPath("documents", doc.ID)).Expect(204)
		admin.Get(t, idPath("documents", doc.ID)+"/content").Problem(404, "not-found")
		admin.Get(t, idPath("documents", doc.ID)).Problem(404, "not-found")
	})

	t.Run("a compagnon reads documents but cannot upload → 403", func(t *testing.T) {
		c := env.As(hubapi.RoleCompagnon)
		c.Get(t, v1+"/documents").Expect(200)
		c.Upload(t, v1+"/documents", []apitest.Part{{Name: "chantier_id", Body: []byte(chantierID)},
			{Name: "file", FileName: "a.txt", Body: []byte("a")}}).Problem(403, "insufficient-scope")
	})
}
