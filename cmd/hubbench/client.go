package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// rawClient is the load generator's HTTP/1.1 client for http:// targets.
// The client shares the machine with the server under test, so every
// microsecond it spends is taken from the server: it writes a request in
// one write and reads the response on the same goroutine from a buffered
// reader, looking only at the status, the framing fields and ETag, instead
// of net/http's per-connection read and write goroutines and full header
// maps. What is measured does not change: a request ends when its whole
// body has been read (so its connection is reused), and any failure to
// exchange a well-formed response is a transport error. https:// targets
// use net/http.
type rawClient struct {
	addr    string // host:port to dial
	host    string // Host field
	dialer  net.Dialer
	idle    chan *rawConn
	timeout time.Duration
}

type rawConn struct {
	nc     net.Conn
	br     *bufio.Reader
	buf    []byte // request being written
	reused bool   // taken from the idle pool
}

// errMalformed is a response the client cannot frame.
var errMalformed = errors.New("malformed HTTP response")

// errUnsafeField refuses a request field value with a control character: a
// value echoed from the server (an ETag) must not add fields.
var errUnsafeField = errors.New("request field with a control character")

// maxBody bounds a body the client keeps (as before: io.LimitReader).
const maxBody = 64 << 20

// newRawClient returns a client of base ("http://host:port"), keeping up
// to idle connections open between requests.
func newRawClient(base string, idle int, timeout time.Duration) (*rawClient, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw client: %q is not an http:// origin", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &rawClient{addr: addr, host: u.Host, idle: make(chan *rawConn, idle), timeout: timeout,
		dialer: net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}}, nil
}

// close closes the idle connections.
func (c *rawClient) close() {
	for {
		select {
		case rc := <-c.idle:
			_ = rc.nc.Close()
		default:
			return
		}
	}
}

func (c *rawClient) get(ctx context.Context, fresh bool) (*rawConn, error) {
	if !fresh {
		select {
		case rc := <-c.idle:
			rc.reused = true
			return rc, nil
		default:
		}
	}
	// Bounded by the timeout only: a deadline taken from ctx can pass an
	// instant before ctx reports it is done, which would turn the end of a
	// run into transport errors. The end of the run aborts the request
	// once ctx is done (see do).
	nc, err := c.dialer.DialContext(context.WithoutCancel(ctx), "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	return &rawConn{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

func (c *rawClient) put(rc *rawConn) {
	select {
	case c.idle <- rc:
	default:
		_ = rc.nc.Close()
	}
}

// do sends one request and reads its response to the end. The body is
// appended to keep when it is not nil, and discarded otherwise. The
// request is abandoned (its connection closed) at the timeout or when ctx
// is done.
func (c *rawClient) do(ctx context.Context, method, path string, hdr http.Header, auth []string, body []byte, keep *bytes.Buffer) (status int, etag string, err error) {
	status, etag, err = c.try(ctx, method, path, hdr, auth, body, keep, false)
	var stale staleConnError
	if errors.As(err, &stale) && method == http.MethodGet && ctx.Err() == nil {
		// An idle connection the server had closed, as net/http's
		// Transport retries it: once, for an idempotent request, on a
		// new connection.
		if keep != nil {
			keep.Reset()
		}
		return c.try(ctx, method, path, hdr, auth, body, keep, true)
	}
	return status, etag, err
}

// staleConnError is a reused connection that failed before any byte of
// the response arrived.
type staleConnError struct{ error }

func (e staleConnError) Unwrap() error { return e.error }

func (c *rawClient) try(ctx context.Context, method, path string, hdr http.Header, auth []string, body []byte, keep *bytes.Buffer, fresh bool) (status int, etag string, err error) {
	if err := ctx.Err(); err != nil {
		return 0, "", err
	}
	rc, err := c.get(ctx, fresh)
	if err != nil {
		return 0, "", err
	}
	if err := rc.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		_ = rc.nc.Close()
		return 0, "", err
	}
	stop := context.AfterFunc(ctx, func() { _ = rc.nc.SetDeadline(time.Unix(1, 0)) })
	reuse := false
	defer func() {
		// A connection whose deadline the abort may have moved, or that
		// the response leaves unusable, is not reused.
		if !stop() || !reuse {
			_ = rc.nc.Close()
			return
		}
		c.put(rc)
	}()
	if err := rc.writeRequest(c.host, method, path, hdr, auth, body); err != nil {
		if rc.reused && !errors.Is(err, errUnsafeField) {
			err = staleConnError{err}
		}
		return 0, "", err
	}
	status, etag, reuse, err = rc.readResponse(keep)
	if err != nil {
		reuse = false
		switch {
		case ctx.Err() != nil:
			err = ctx.Err()
		case rc.reused && rc.br.Buffered() == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) && status == 0:
			err = staleConnError{err}
		}
		return 0, "", err
	}
	return status, etag, nil
}

func (rc *rawConn) writeRequest(host, method, path string, hdr http.Header, auth []string, body []byte) error {
	b := append(rc.buf[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: hubbench\r\n"...)
	ok := safeField(path) && safeField(host)
	for _, v := range auth {
		b, ok = appendField(b, "Authorization", v), ok && safeField(v)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			b, ok = appendField(b, k, v), ok && safeField(k) && safeField(v)
		}
	}
	if !ok {
		return errUnsafeField
	}
	if body != nil {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	rc.buf = b
	_, err := rc.nc.Write(b)
	return err
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// safeField reports whether s can go into a request head as it is.
func safeField(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// readResponse reads a whole response. reuse is false when the connection
// must be closed after it (Connection: close, HTTP/1.0, a body delimited by
// the end of the connection).
func (rc *rawConn) readResponse(keep *bytes.Buffer) (status int, etag string, reuse bool, err error) {
	for {
		var line []byte
		if line, err = rc.line(); err != nil {
			return 0, "", false, err
		}
		// HTTP/1.x SP 3DIGIT [SP reason]
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return 0, "", false, errMalformed
		}
		http11 := line[7] == '1'
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil || status < 100 {
			return 0, "", false, errMalformed
		}
		length, chunked, closeConn := int64(-1), false, !http11
		for {
			if line, err = rc.line(); err != nil {
				return 0, "", false, err
			}
			if len(line) == 0 {
				break
			}
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				return 0, "", false, errMalformed
			}
			value = bytes.TrimSpace(value)
			switch {
			case asciiEqualFold(name, "Content-Length"):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 || (length >= 0 && n != length) {
					return 0, "", false, errMalformed
				}
				length = n
			case asciiEqualFold(name, "Transfer-Encoding"):
				chunked = asciiEqualFold(value, "chunked")
				if !chunked {
					return 0, "", false, errMalformed
				}
			case asciiEqualFold(name, "Connection"):
				for _, t := range bytes.Split(value, []byte(",")) {
					t = bytes.TrimSpace(t)
					if asciiEqualFold(t, "close") {
						closeConn = true
					} else if !http11 && asciiEqualFold(t, "keep-alive") {
						closeConn = false
					}
				}
			case asciiEqualFold(name, "Etag"):
				if etag == "" {
					etag = string(value)
				}
			}
		}
		if status == http.StatusSwitchingProtocols {
			return status, etag, false, nil // never asked for; not reusable
		}
		if status < 200 {
			etag = ""
			continue // informational: the final response follows
		}
		var sink io.Writer = io.Discard
		if keep != nil {
			sink = &limitedBuffer{b: keep, left: maxBody}
		}
		switch {
		case status == http.StatusNoContent || status == http.StatusNotModified:
		case chunked:
			if err = rc.chunked(sink); err != nil {
				return 0, "", false, err
			}
		case length >= 0:
			if err = rc.copyN(sink, length); err != nil {
				return 0, "", false, err
			}
		default: // delimited by the end of the connection
			if _, err = io.Copy(sink, rc.br); err != nil {
				return 0, "", false, err
			}
			closeConn = true
		}
		return status, etag, !closeConn, nil
	}
}

// line returns the next line without its CRLF (or LF); it is valid until
// the next read.
func (rc *rawConn) line() ([]byte, error) {
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errMalformed
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func (rc *rawConn) copyN(sink io.Writer, n int64) error {
	if sink == io.Discard {
		for n > 0 {
			k, err := rc.br.Discard(int(min(n, 1<<30)))
			n -= int64(k)
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		return nil
	}
	_, err := io.CopyN(sink, rc.br, n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// chunked reads a chunked body (RFC 9112 §7.1) and its trailer section.
func (rc *rawConn) chunked(sink io.Writer) error {
	for {
		line, err := rc.line()
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			for { // trailer fields, then the empty line
				if line, err = rc.line(); err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if err := rc.copyN(sink, n); err != nil {
			return err
		}
		if line, err = rc.line(); err != nil || len(line) != 0 {
			if err == nil {
				err = errMalformed
			}
			return err
		}
	}
}

// limitedBuffer appends to b up to left bytes, and fails beyond.
type limitedBuffer struct {
	b    *bytes.Buffer
	left int64
}

var errBodyTooLarge = errors.New("response body over 64 MiB")

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errBodyTooLarge
	}
	l.left -= int64(len(p))
	return l.b.Write(p)
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
