package etag_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/problem"
)

const chantierJSON = `{"id":1,"nom":"Chantier Rivoli","adresse":"12 rue de Rivoli, Paris"}`

// chantierHandler answers like a v1 REST handler: JSON with caching headers.
func chantierHandler(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "private, no-cache")
		h.Set("Vary", "Authorization")
		h.Set("Content-Location", "/api/v1/chantiers/1")
		h.Set("Expires", dateAfter)
		h.Set("Date", dateSame)
		h.Set("Last-Modified", dateSame)
		h.Set("Content-Language", "fr")
		_, _ = io.WriteString(w, body)
	})
}

func serve(t testing.TB, h http.Handler, method string, header hdr) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "/api/v1/chantiers/1", nil)
	for k, vs := range header {
		r.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestConditionalGET(t *testing.T) {
	mw := etag.ConditionalGET()
	h := mw(chantierHandler(chantierJSON))
	tag := etag.Of([]byte(chantierJSON)).String()

	t.Run("a 200 gets a strong ETag over its body and an exact Content-Length", func(t *testing.T) {
		rec := serve(t, h, "GET", nil)
		if rec.Code != 200 || rec.Body.String() != chantierJSON {
			t.Fatalf("status %d body %q", rec.Code, rec.Body)
		}
		if got := rec.Header().Get("ETag"); got != tag {
			t.Fatalf("ETag %q; want %q", got, tag)
		}
		if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(len(chantierJSON)) {
			t.Fatalf("Content-Length %q", got)
		}
	})

	t.Run("a changed body gets another ETag", func(t *testing.T) {
		rec := serve(t, mw(chantierHandler(chantierJSON+" ")), "GET", nil)
		if rec.Header().Get("ETag") == tag {
			t.Fatal("same ETag for different bodies")
		}
	})

	notModified := []struct {
		name string
		inm  string
	}{
		{"If-None-Match with the ETag → 304", tag},
		{"If-None-Match with the weak form of the ETag → 304", "W/" + tag},
		{"If-None-Match list containing the ETag → 304", `"old", ` + tag + `, W/"older"`},
		{"If-None-Match * → 304", "*"},
	}
	for _, tt := range notModified {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, h, "GET", hdr{"If-None-Match": {tt.inm}})
			assert304(t, rec, tag)
			assert304KeepsHeaders(t, rec)
		})
	}

	t.Run("stale If-None-Match → 200 with the body", func(t *testing.T) {
		rec := serve(t, h, "GET", hdr{"If-None-Match": {`"stale"`}})
		if rec.Code != 200 || rec.Body.String() != chantierJSON || rec.Header().Get("ETag") != tag {
			t.Fatalf("status %d ETag %q body %q", rec.Code, rec.Header().Get("ETag"), rec.Body)
		}
	})

	t.Run("malformed If-None-Match → 200, never 5xx", func(t *testing.T) {
		for _, v := range []string{`abc`, `"unterminated`, `*, "a"`, "\x00", `W/`} {
			rec := serve(t, h, "GET", hdr{"If-None-Match": {v}})
			if rec.Code != 200 || rec.Body.String() != chantierJSON {
				t.Fatalf("If-None-Match %q: status %d", v, rec.Code)
			}
		}
	})

	t.Run("If-Modified-Since against the handler's Last-Modified → 304", func(t *testing.T) {
		rec := serve(t, h, "GET", hdr{"If-Modified-Since": {dateSame}})
		assert304(t, rec, tag)
		assert304KeepsHeaders(t, rec)
	})

	t.Run("If-Modified-Since before Last-Modified → 200", func(t *testing.T) {
		rec := serve(t, h, "GET", hdr{"If-Modified-Since": {dateBefore}})
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	})

	t.Run("If-Modified-Since is ignored when If-None-Match is present → 200", func(t *testing.T) {
		rec := serve(t, h, "GET", hdr{"If-None-Match": {`"stale"`}, "If-Modified-Since": {dateAfter}})
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	})

	t.Run("If-Modified-Since is ignored without Last-Modified → 200", func(t *testing.T) {
		noLM := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, chantierJSON)
		}))
		rec := serve(t, noLM, "GET", hdr{"If-Modified-Since": {dateAfter}})
		if rec.Code != 200 || rec.Body.String() != chantierJSON {
			t.Fatalf("status %d", rec.Code)
		}
	})

	t.Run("stale If-Match on GET → 412 problem without caching headers", func(t *testing.T) {
		rec := serve(t, h, "GET", hdr{"If-Match": {`"stale"`}})
		assertProblem(t, rec, http.StatusPreconditionFailed, "precondition-failed")
		for _, k := range []string{"Cache-Control", "Expires", "Last-Modified", "Content-Language"} {
			if v := rec.Header().Get(k); v != "" {
				t.Errorf("412 carries %s: %q", k, v)
			}
		}
	})

	t.Run("current If-Match on GET → 200", func(t *testing.T) {
		rec := serve(t, h, "GET", hdr{"If-Match": {tag}})
		if rec.Code != 200 || rec.Body.String() != chantierJSON {
			t.Fatalf("status %d", rec.Code)
		}
	})

	t.Run("HEAD gets the ETag and Content-Length of GET, without a body", func(t *testing.T) {
		rec := serve(t, h, "HEAD", nil)
		if rec.Code != 200 || rec.Body.Len() != 0 {
			t.Fatalf("status %d body %q", rec.Code, rec.Body)
		}
		if rec.Header().Get("ETag") != tag || rec.Header().Get("Content-Length") != strconv.Itoa(len(chantierJSON)) {
			t.Fatalf("HEAD headers %v", rec.Header())
		}
	})

	t.Run("HEAD with If-None-Match → 304", func(t *testing.T) {
		rec := serve(t, h, "HEAD", hdr{"If-None-Match": {tag}})
		assert304(t, rec, tag)
		assert304KeepsHeaders(t, rec)
	})

	t.Run("HEAD handler that writes no body keeps its headers and gets no ETag", func(t *testing.T) {
		head := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1234")
		}))
		rec := serve(t, head, "HEAD", hdr{"If-None-Match": {etag.Of(nil).String()}})
		if rec.Code != 200 || rec.Header().Get("ETag") != "" || rec.Header().Get("Content-Length") != "1234" {
			t.Fatalf("status %d headers %v", rec.Code, rec.Header())
		}
	})

	t.Run("other methods pass through untouched", func(t *testing.T) {
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			rec := serve(t, h, m, hdr{"If-None-Match": {"*"}})
			if rec.Code != 200 || rec.Header().Get("ETag") != "" || rec.Body.String() != chantierJSON {
				t.Fatalf("%s: status %d ETag %q", m, rec.Code, rec.Header().Get("ETag"))
			}
		}
	})
}

func TestConditionalGETHandlerETag(t *testing.T) {
	version := etag.VersionTag(7)
	calls := 0
	h := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("ETag", version.String())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "private, no-cache")
		_, _ = io.WriteString(w, chantierJSON)
	}))

	t.Run("a handler's ETag is kept, not replaced by a hash", func(t *testing.T) {
		rec := serve(t, h, "GET", nil)
		if rec.Code != 200 || rec.Header().Get("ETag") != `"v7"` || rec.Body.String() != chantierJSON {
			t.Fatalf("status %d ETag %q", rec.Code, rec.Header().Get("ETag"))
		}
		if rec.Header().Get("Content-Length") != "" {
			t.Fatal("a handler-tagged body was buffered (Content-Length was computed)")
		}
	})

	t.Run("If-None-Match with the handler's ETag → 304 and the body is dropped", func(t *testing.T) {
		assert304(t, serve(t, h, "GET", hdr{"If-None-Match": {`"v7"`}}), `"v7"`)
	})

	t.Run("If-None-Match with a hash of the body does not match a version ETag", func(t *testing.T) {
		rec := serve(t, h, "GET", hdr{"If-None-Match": {etag.Of([]byte(chantierJSON)).String()}})
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	})

	t.Run("stale If-Match on GET → 412 before the body", func(t *testing.T) {
		rec := serve(t, h, "GET", hdr{"If-Match": {`"v6"`}})
		assertProblem(t, rec, http.StatusPreconditionFailed, "precondition-failed")
	})

	t.Run("a handler's weak ETag is honoured with the weak comparison", func(t *testing.T) {
		weak := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `W/"page-1"`)
			_, _ = io.WriteString(w, "[]")
		}))
		assert304(t, serve(t, weak, "GET", hdr{"If-None-Match": {`"page-1"`}}), `W/"page-1"`)
	})

	t.Run("a handler's invalid ETag is passed through without conditional processing", func(t *testing.T) {
		bad := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `unquoted`)
			_, _ = io.WriteString(w, "x")
		}))
		rec := serve(t, bad, "GET", hdr{"If-None-Match": {`*`}})
		if rec.Code != 200 || rec.Header().Get("ETag") != "unquoted" || rec.Body.String() != "x" {
			t.Fatalf("status %d ETag %q", rec.Code, rec.Header().Get("ETag"))
		}
	})

	t.Run("an ETag set after WriteHeader but before the body is honoured", func(t *testing.T) {
		late := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			w.Header().Set("ETag", `"late"`)
			_, _ = io.WriteString(w, "x")
		}))
		assert304(t, serve(t, late, "GET", hdr{"If-None-Match": {`"late"`}}), `"late"`)
	})
}

func TestConditionalGETPassThrough(t *testing.T) {
	t.Run("non-2xx answers are not tagged and ignore preconditions", func(t *testing.T) {
		h := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such chantier."))
		}))
		rec := serve(t, h, "GET", hdr{"If-None-Match": {"*"}})
		if rec.Code != 404 || rec.Header().Get("ETag") != "" || !strings.Contains(rec.Body.String(), "not-found") {
			t.Fatalf("status %d ETag %q body %q", rec.Code, rec.Header().Get("ETag"), rec.Body)
		}
	})

	t.Run("2xx other than 200 are not tagged", func(t *testing.T) {
		h := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}))
		rec := serve(t, h, "GET", hdr{"If-None-Match": {"*"}})
		if rec.Code != 204 || rec.Header().Get("ETag") != "" {
			t.Fatalf("status %d ETag %q", rec.Code, rec.Header().Get("ETag"))
		}
	})

	t.Run("a body over MaxBody passes through whole and untagged", func(t *testing.T) {
		body := strings.Repeat("0123456789", 100) // 1000 bytes
		h := etag.ConditionalGET(etag.MaxBody(256))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(body); i += 100 {
				_, _ = io.WriteString(w, body[i:i+100])
			}
		}))
		rec := serve(t, h, "GET", hdr{"If-None-Match": {"*"}})
		if rec.Code != 200 || rec.Body.String() != body || rec.Header().Get("ETag") != "" {
			t.Fatalf("status %d len %d ETag %q", rec.Code, rec.Body.Len(), rec.Header().Get("ETag"))
		}
	})

	t.Run("a body exactly MaxBody long is tagged", func(t *testing.T) {
		body := strings.Repeat("x", 256)
		h := etag.ConditionalGET(etag.MaxBody(256))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, body)
		}))
		rec := serve(t, h, "GET", nil)
		if rec.Header().Get("ETag") != etag.Of([]byte(body)).String() {
			t.Fatalf("ETag %q", rec.Header().Get("ETag"))
		}
	})

	t.Run("a declared Content-Length over MaxBody is not buffered at all", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h := etag.ConditionalGET(etag.MaxBody(10))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "11")
			_, _ = io.WriteString(w, "hello")
			if rec.Body.String() != "hello" {
				t.Error("the first write was held back")
			}
			_, _ = io.WriteString(w, " world")
		}))
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Body.String() != "hello world" || rec.Header().Get("ETag") != "" {
			t.Fatalf("body %q ETag %q", rec.Body, rec.Header().Get("ETag"))
		}
	})

	t.Run("an empty 200 is tagged", func(t *testing.T) {
		h := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		rec := serve(t, h, "GET", hdr{"If-None-Match": {etag.Of(nil).String()}})
		assert304(t, rec, etag.Of(nil).String())
	})

	t.Run("a flush before any write starts an untagged 200 stream", func(t *testing.T) {
		h := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "event")
		}))
		rec := serve(t, h, "GET", hdr{"If-None-Match": {"*"}})
		if rec.Code != 200 || !rec.Flushed || rec.Body.String() != "event" || rec.Header().Get("ETag") != "" {
			t.Fatalf("status %d flushed %v body %q ETag %q", rec.Code, rec.Flushed, rec.Body, rec.Header().Get("ETag"))
		}
	})

	t.Run("a flush after a 304 was decided sends nothing more", func(t *testing.T) {
		h := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"v1"`)
			_, _ = io.WriteString(w, "body")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}))
		rec := serve(t, h, "GET", hdr{"If-None-Match": {`"v1"`}})
		if rec.Code != 304 || rec.Flushed || rec.Body.Len() != 0 {
			t.Fatalf("status %d flushed %v body %q", rec.Code, rec.Flushed, rec.Body)
		}
	})

	t.Run("a flushed response streams untagged", func(t *testing.T) {
		h := etag.ConditionalGET()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "part 1;")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			_, _ = io.WriteString(w, "part 2")
		}))
		rec := serve(t, h, "GET", hdr{"If-None-Match": {"*"}})
		if rec.Code != 200 || !rec.Flushed || rec.Body.String() != "part 1;part 2" || rec.Header().Get("ETag") != "" {
			t.Fatalf("status %d flushed %v body %q ETag %q", rec.Code, rec.Flushed, rec.Body, rec.Header().Get("ETag"))
		}
	})
}

// TestConditionalGETOverTheWire runs the middleware in a real net/http server.
func TestConditionalGETOverTheWire(t *testing.T) {
	var serverLog bytes.Buffer
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/chantier", chantierHandler(chantierJSON))
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release // the client must read "first" before the handler goes on
		_, _ = io.WriteString(w, "second\n")
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("Write after Hijack: %v; want ErrHijacked", err)
		}
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = brw.Flush()
	})
	mux.HandleFunc("/deadline", func(w http.ResponseWriter, r *http.Request) {
		// Reaches the server's writer through Unwrap.
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, "body")
	})
	srv := httptest.NewUnstartedServer(etag.ConditionalGET()(mux))
	srv.Config.ErrorLog = log.New(&serverLog, "", 0)
	srv.Start()
	defer srv.Close()
	client := srv.Client()

	get := func(t *testing.T, method, path string, header hdr) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}

	tag := etag.Of([]byte(chantierJSON)).String()
	t.Run("304 on the wire has no body and no Content-Length", func(t *testing.T) {
		resp := get(t, "GET", "/chantier", hdr{"If-None-Match": {tag}})
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("Content-Length") != "" || resp.Header.Get("ETag") != tag {
			t.Fatalf("status %d body %q headers %v", resp.StatusCode, body, resp.Header)
		}
		if resp.Header.Get("Cache-Control") != "private, no-cache" || resp.Header.Get("Vary") != "Authorization" {
			t.Fatalf("304 lost caching headers: %v", resp.Header)
		}
	})

	t.Run("HEAD on the wire has the Content-Length of GET", func(t *testing.T) {
		resp := get(t, "HEAD", "/chantier", nil)
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(chantierJSON)) || resp.Header.Get("ETag") != tag {
			t.Fatalf("status %d length %d headers %v", resp.StatusCode, resp.ContentLength, resp.Header)
		}
	})

	t.Run("a flushed stream reaches the client before the handler returns", func(t *testing.T) {
		resp := get(t, "GET", "/stream", nil)
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		close(release)
		if err != nil || line != "first\n" || resp.Header.Get("ETag") != "" {
			t.Fatalf("line %q err %v ETag %q", line, err, resp.Header.Get("ETag"))
		}
	})

	t.Run("a hijacked connection is left to the handler", func(t *testing.T) {
		resp := get(t, "GET", "/hijack", nil)
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "hijacked" {
			t.Fatalf("body %q", body)
		}
	})

	t.Run("http.ResponseController reaches the connection through the middleware", func(t *testing.T) {
		resp := get(t, "GET", "/deadline", nil)
		if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" {
			t.Fatalf("status %d ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
		}
	})

	t.Run("103 Early Hints pass through before the tagged 200", func(t *testing.T) {
		var hints []textproto.MIMEHeader
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == http.StatusEarlyHints {
				hints = append(hints, h)
			}
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", srv.URL+"/hints", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if len(hints) != 1 || resp.StatusCode != 200 || string(body) != "body" || resp.Header.Get("ETag") != etag.Of(body).String() {
			t.Fatalf("hints %v status %d body %q ETag %q", hints, resp.StatusCode, body, resp.Header.Get("ETag"))
		}
	})

	srv.Close()
	if serverLog.Len() != 0 {
		t.Fatalf("the server logged errors: %s", serverLog.String())
	}
}

func TestConditionalGETConfiguration(t *testing.T) {
	for name, build := range map[string]func(){
		"MaxBody(0) panics when the middleware is built": func() { etag.ConditionalGET(etag.MaxBody(0)) },
		"negative MaxBody panics":                        func() { etag.ConditionalGET(etag.MaxBody(-1)) },
		"nil Option panics":                              func() { etag.ConditionalGET(nil) },
		"nil handler panics":                             func() { etag.ConditionalGET()(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			build()
		})
	}
}

func assert304(t *testing.T, rec *httptest.ResponseRecorder, tag string) {
	t.Helper()
	if rec.Code != http.StatusNotModified {
		t.Fatalf("status %d; want 304", rec.Code)
	}
	if rec.Body.Len() != 0 {
		t.Fatalf("304 has a body: %q", rec.Body)
	}
	hd := rec.Header()
	if hd.Get("ETag") != tag {
		t.Fatalf("304 ETag %q; want %q", hd.Get("ETag"), tag)
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Language", "Last-Modified"} {
		if v := hd.Get(k); v != "" {
			t.Errorf("304 carries %s: %q", k, v)
		}
	}
}

// assert304KeepsHeaders checks that a 304 for chantierHandler carries the
// fields a 200 would have had (RFC 9110 §15.4.5).
func assert304KeepsHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	for k, want := range map[string]string{"Cache-Control": "private, no-cache", "Vary": "Authorization",
		"Content-Location": "/api/v1/chantiers/1", "Expires": dateAfter, "Date": dateSame} {
		if v := rec.Header().Get(k); v != want {
			t.Errorf("304 %s = %q; want %q", k, v, want)
		}
	}
}

func assertProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status || rec.Header().Get("Content-Type") != problem.ContentType {
		t.Fatalf("status %d content type %q; want %d problem", rec.Code, rec.Header().Get("Content-Type"), status)
	}
	var d map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatalf("problem body %q: %v", rec.Body, err)
	}
	if d["type"] != problem.DefaultTypeBase+code || d["status"] != float64(status) {
		t.Fatalf("problem %v", d)
	}
}

// FuzzConditionalGET sends arbitrary conditional headers through the
// middleware: the answer is always 200, 304 or 412, never a 5xx or a panic.
func FuzzConditionalGET(f *testing.F) {
	f.Add("HEAD", `"v7"`, ``, dateSame)
	f.Add("GET", `W/"v7", "x"`, `*`, "garbage")
	f.Add("GET", `*, "a"`, `"v6"`, ``)
	f.Add("GET", "\x00\"", `W/`, dateBefore)
	h := etag.ConditionalGET()(chantierHandler(chantierJSON))
	f.Fuzz(func(t *testing.T, method, inm, im, date string) {
		if method != "HEAD" {
			method = "GET"
		}
		rec := serve(t, h, method, hdr{"If-None-Match": {inm}, "If-Match": {im},
			"If-Modified-Since": {date}, "If-Unmodified-Since": {date}})
		switch rec.Code {
		case http.StatusOK, http.StatusNotModified, http.StatusPreconditionFailed:
		default:
			t.Fatalf("status %d for If-None-Match %q If-Match %q date %q", rec.Code, inm, im, date)
		}
	})
}
