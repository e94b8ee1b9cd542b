package fields_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hubchantier/hubchantier/fields"
)

var benchExprs = []struct{ name, expr string }{
	{"flat", "id,nom,adresse"},
	{"nested", "nom,responsable(nom,prenom),taches.titre"},
	{"deep", "nom,responsable(nom,entreprise(nom,siret)),taches(titre,fait),url"},
	{"star", "*"},
}

func BenchmarkParse(b *testing.B) {
	for _, e := range benchExprs {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fields.Parse(e.expr, chantierSchema); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseAndProjectList100 encodes a page of 100 chantiers with a
// selection, the way a handler answers ?fields=...&limit=100. "streaming" is
// this package (encode once, project the bytes); "naive" decodes the encoding
// into maps, filters and encodes again; "full" is the plain encoding with no
// selection, for reference.
func BenchmarkParseAndProjectList100(b *testing.B) {
	page := samplePage(100)
	for _, e := range []struct{ name, expr string }{
		{"flat", "id,nom"},
		{"nested", "nom,responsable(nom,prenom),taches.titre"},
	} {
		b.Run(e.name+"/streaming", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 64<<10)
			for b.Loop() {
				sel, err := fields.Parse(e.expr, chantierSchema)
				if err != nil {
					b.Fatal(err)
				}
				if buf, err = fields.Append(buf[:0], page, sel); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(e.name+"/naive", func(b *testing.B) {
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				sel, err := fields.Parse(e.expr, chantierSchema)
				if err != nil {
					b.Fatal(err)
				}
				full, err := json.Marshal(page)
				if err != nil {
					b.Fatal(err)
				}
				var v any
				if err := json.Unmarshal(full, &v); err != nil {
					b.Fatal(err)
				}
				if out, err = json.Marshal(referencePage(v, sel)); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(out)))
		})
	}
	b.Run("full/encoding only", func(b *testing.B) {
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			var err error
			if out, err = json.Marshal(page); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(out)))
	})
}

// BenchmarkProjectList100 measures the projection of an already encoded page
// alone (what Middleware adds to a handler's work).
func BenchmarkProjectList100(b *testing.B) {
	src, _ := json.Marshal(samplePage(100))
	sel := mustParse(b, "nom,responsable(nom,prenom),taches.titre", chantierSchema)
	buf := make([]byte, 0, len(src))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = fields.Project(buf[:0], src, sel); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddlewareList100 serves a 100-item page through Middleware.
func BenchmarkMiddlewareList100(b *testing.B) {
	src, _ := json.Marshal(samplePage(100))
	h := fields.Middleware(chantierSchema)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(src)
	}))
	req := httptest.NewRequest(http.MethodGet, "/chantiers?fields=nom,responsable(nom,prenom)", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatal(w.code)
		}
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return io.Discard.Write(p) }
