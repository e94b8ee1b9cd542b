package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// SMTP sends messages through an SMTP server (RFC 5321), one connection per
// message.
type SMTP struct {
	addr     string // host:port
	host     string
	from     string // bare address of the envelope and From header
	fromHdr  string // the From header as configured
	user     string
	password string
	implicit bool // smtps: TLS from the first byte
	// TLSConfig, when set, replaces the default TLS configuration (verified
	// against the system roots, ServerName = host). Tests set RootCAs.
	TLSConfig *tls.Config
	// Timeout bounds one Send when ctx has no earlier deadline (default 30 s).
	Timeout time.Duration
}

// ParseSMTPURL configures an SMTP notifier from a URL:
//
//	smtp://[user:password@]host[:port]?from=sender@example.com
//	smtps://[user:password@]host[:port]?from=...
//
// smtp:// (default port 587) upgrades the connection with STARTTLS whenever
// the server offers it, and then verifies the server's certificate; it
// refuses to send a password over a connection left unencrypted, except to
// a server on the loopback interface. smtps:// (default port 465) speaks TLS
// from the start. from is required; it may carry a display name
// ("Hub <hub@example.com>", URL-encoded). User and password are
// percent-decoded.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("notify: SMTP URL does not parse") // the URL may hold a password: not quoted
	}
	s := &SMTP{Timeout: 30 * time.Second}
	var port string
	switch u.Scheme {
	case "smtp":
		port = "587"
	case "smtps":
		port, s.implicit = "465", true
	default:
		return nil, errors.New("notify: SMTP URL must start with smtp:// or smtps://")
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, errors.New("notify: SMTP URL has no host")
	}
	if p := u.Port(); p != "" {
		port = p
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	s.fromHdr = u.Query().Get("from")
	if s.fromHdr == "" {
		return nil, errors.New("notify: SMTP URL needs ?from=sender@example.com")
	}
	if s.from, err = parseAddress(s.fromHdr); err != nil {
		return nil, fmt.Errorf("notify: SMTP URL from: %w", err)
	}
	return s, nil
}

// Send delivers m to the server. Errors never include the password.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := m.Validate()
	if err != nil {
		return err
	}
	body, err := s.compose(m)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok && s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	conn, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("notify: smtp: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Closing the connection when ctx ends aborts a conversation in progress.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := s.converse(conn, to, body); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("notify: smtp: %w", ctx.Err())
		}
		return fmt.Errorf("notify: smtp: %w", err)
	}
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		c := s.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.host
		}
		return c
	}
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
}

func (s *SMTP) dial(ctx context.Context) (net.Conn, error) {
	if s.implicit {
		d := tls.Dialer{Config: s.tlsConfig()}
		return d.DialContext(ctx, "tcp", s.addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.addr)
}

func (s *SMTP) converse(conn net.Conn, to []string, body []byte) error {
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if !s.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return err
			}
		}
	}
	if s.user != "" {
		// PlainAuth refuses to send the password over an unencrypted
		// connection to anything but localhost.
		if err := c.Auth(smtp.PlainAuth("", s.user, s.password, s.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.from); err != nil {
		return err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// compose writes the RFC 5322 message: UTF-8 text, quoted-printable.
func (s *SMTP) compose(m Message) ([]byte, error) {
	var b bytes.Buffer
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	domain := s.from[strings.LastIndexByte(s.from, '@')+1:]
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", s.fromHdr)
	header("To", strings.Join(m.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
