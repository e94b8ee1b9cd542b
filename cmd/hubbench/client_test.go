package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer serves h and counts the connections the client opened.
func rawServer(t *testing.T, h http.HandlerFunc) (*rawClient, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := newRawClient(srv.URL, 4, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c, &conns
}

func TestRawClient(t *testing.T) {
	page := strings.Repeat("0123456789", 500) // over net/http's 2 KiB: chunked without Content-Length
	c, conns := rawServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/length":
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Content-Length", "5000")
			_, _ = io.WriteString(w, page)
		case "/chunked":
			_, _ = io.WriteString(w, page[:3000])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, page[3000:])
		case "/not-modified":
			if r.Header.Get("If-None-Match") != `"v1"` {
				http.Error(w, "no If-None-Match", http.StatusBadRequest)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		case "/echo":
			if r.Header.Get("Authorization") != "Bearer k" || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "fields lost", http.StatusBadRequest)
				return
			}
			_, _ = io.Copy(w, r.Body)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		case "/slow":
			time.Sleep(3 * time.Second)
		case "/missing":
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	do := func(t *testing.T, method, path string, hdr http.Header, body []byte) (int, string, string) {
		t.Helper()
		var keep bytes.Buffer
		status, etag, err := c.do(ctx, method, path, hdr, []string{"Bearer k"}, body, &keep)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return status, etag, keep.String()
	}

	t.Run("a Content-Length body is read whole, with its status and ETag", func(t *testing.T) {
		status, etag, body := do(t, http.MethodGet, "/length", nil, nil)
		if status != 200 || etag != `"v1"` || body != page {
			t.Fatalf("%d %q, %d bytes", status, etag, len(body))
		}
	})
	t.Run("a chunked body is read whole", func(t *testing.T) {
		if status, _, body := do(t, http.MethodGet, "/chunked", nil, nil); status != 200 || body != page {
			t.Fatalf("%d, %d bytes", status, len(body))
		}
	})
	t.Run("304 has no body, and the request carries the given fields", func(t *testing.T) {
		status, etag, body := do(t, http.MethodGet, "/not-modified", http.Header{"If-None-Match": {`"v1"`}}, nil)
		if status != 304 || etag != `"v1"` || body != "" {
			t.Fatalf("%d %q %q", status, etag, body)
		}
	})
	t.Run("a request body and the Authorization field reach the server", func(t *testing.T) {
		status, _, body := do(t, http.MethodPatch, "/echo", http.Header{"Content-Type": {"application/json"}}, []byte(`{"a":1}`))
		if status != 200 || body != `{"a":1}` {
			t.Fatalf("%d %q", status, body)
		}
	})
	t.Run("error statuses are answers like any other", func(t *testing.T) {
		if status, _, _ := do(t, http.MethodGet, "/missing", nil, nil); status != 404 {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("connections are reused; Connection: close is honoured", func(t *testing.T) {
		before := conns.Load()
		for range 20 {
			do(t, http.MethodGet, "/length", nil, nil)
		}
		if n := conns.Load() - before; n != 0 {
			t.Fatalf("%d new connections for 20 sequential requests", n)
		}
		if _, _, body := do(t, http.MethodGet, "/close", nil, nil); body != "bye" {
			t.Fatalf("body %q", body)
		}
		do(t, http.MethodGet, "/length", nil, nil)
		if n := conns.Load() - before; n != 1 {
			t.Fatalf("%d new connections after Connection: close, want 1", n)
		}
	})
	t.Run("a value with CR or LF is refused, not sent", func(t *testing.T) {
		_, _, err := c.do(ctx, http.MethodGet, "/length", http.Header{"If-None-Match": {"\"a\"\r\nX-Injected: 1"}}, nil, nil, nil)
		if err == nil {
			t.Fatal("sent")
		}
	})
	t.Run("the timeout and the end of the run abandon a request", func(t *testing.T) {
		start := time.Now()
		if _, _, err := c.do(ctx, http.MethodGet, "/slow", nil, nil, nil, nil); err == nil || time.Since(start) > 2900*time.Millisecond {
			t.Fatalf("timeout: %v after %v", err, time.Since(start))
		}
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		_, _, err := c.do(cctx, http.MethodGet, "/slow", nil, nil, nil, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled run: %v", err)
		}
		if status, _, _ := do(t, http.MethodGet, "/length", nil, nil); status != 200 {
			t.Fatalf("after abandoned requests: %d", status)
		}
	})
}

func TestRawClientRejectsMalformedResponses(t *testing.T) {
	for name, resp := range map[string]string{
		"not HTTP":               "SSH-2.0-OpenSSH\r\n\r\n",
		"bad status":             "HTTP/1.1 2x0 OK\r\n\r\n",
		"bad length":             "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"conflicting lengths":    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"short body":             "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"bad chunk":              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"unknown coding":         "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"field without a colon":  "HTTP/1.1 200 OK\r\nbroken\r\n\r\n",
		"closed before the head": "HTTP/1.1 200 OK\r\nContent-",
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				_, _ = io.WriteString(conn, resp)
			}()
			c, err := newRawClient("http://"+ln.Addr().String(), 1, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			if status, _, err := c.do(context.Background(), http.MethodGet, "/", nil, nil, nil, nil); err == nil {
				t.Fatalf("accepted, status %d", status)
			}
		})
	}
}

func TestRawClientRetriesAGetOnAConnectionTheServerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer conn.Close() // one response, then the server drops the idle connection
				buf := make([]byte, 4096)
				if _, err := conn.Read(buf); err == nil {
					_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	c, err := newRawClient("http://"+ln.Addr().String(), 1, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for i := range 3 {
		time.Sleep(20 * time.Millisecond) // let the server close the previous connection
		var body bytes.Buffer
		status, _, err := c.do(context.Background(), http.MethodGet, "/", nil, nil, nil, &body)
		if err != nil || status != 200 || body.String() != "ok" {
			t.Fatalf("request %d: %d %q %v", i, status, body.String(), err)
		}
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
	t.Run("a PATCH is not retried", func(t *testing.T) {
		time.Sleep(20 * time.Millisecond)
		if _, _, err := c.do(context.Background(), http.MethodPatch, "/", nil, nil, []byte("{}"), nil); err == nil {
			t.Fatal("a PATCH on a closed connection succeeded")
		}
	})
}
