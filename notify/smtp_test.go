package notify_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/notify"
)

func notifier(t *testing.T, srv *smtpServer, scheme, userinfo string, roots *x509.CertPool) *notify.SMTP {
	t.Helper()
	raw := scheme + "://" + userinfo + srv.addr + "?from=" + url.QueryEscape("Hub <hub@example.com>")
	n, err := notify.ParseSMTPURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	if roots != nil {
		n.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return n
}

// parse reads a received message: headers and the decoded text.
func parse(t *testing.T, data string) (*mail.Message, string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return m, string(body)
}

func TestSMTPSend(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("é", 100)
	msg := notify.Message{To: []string{"ops@example.com", "Chef <chef@example.com>"}, Subject: "Clé tournée",
		Text: "Bonjour,\n.\nLa clé a été tournée.\n" + long}

	t.Run("plain connection, no credentials → delivered with headers and UTF-8 text", func(t *testing.T) {
		srv := startSMTP(t, nil)
		if err := notifier(t, srv, "smtp", "", nil).Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		got := srv.messages()
		if len(got) != 1 {
			t.Fatalf("%d messages", len(got))
		}
		r := got[0]
		if r.From != "hub@example.com" || !slices.Equal(r.To, []string{"ops@example.com", "chef@example.com"}) || r.Auth != "" || r.TLS {
			t.Fatalf("envelope: %+v", r)
		}
		m, text := parse(t, r.Data)
		subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil || subject != "Clé tournée" {
			t.Fatalf("subject %q, %v", subject, err)
		}
		if m.Header.Get("From") != "Hub <hub@example.com>" || m.Header.Get("Message-Id") == "" || m.Header.Get("Date") == "" {
			t.Fatalf("headers: %v", m.Header)
		}
		if want := strings.ReplaceAll(msg.Text, "\n", "\r\n"); text != want && strings.ReplaceAll(text, "\r\n", "\n") != msg.Text {
			t.Fatalf("text %q", text)
		}
	})

	t.Run("credentials → AUTH PLAIN with the decoded user and password", func(t *testing.T) {
		srv := startSMTP(t, nil)
		if err := notifier(t, srv, "smtp", "hub%40example.com:p%40ss@", nil).Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if got := srv.messages(); len(got) != 1 || got[0].Auth != "hub@example.com:p@ss" {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("STARTTLS offered → the conversation continues under verified TLS", func(t *testing.T) {
		srv := startSMTP(t, func(s *smtpServer) { s.startTLS = true })
		if err := notifier(t, srv, "smtp", "u:p@", srv.certPool).Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		got := srv.messages()
		if len(got) != 1 || !got[0].TLS || got[0].Auth != "u:p" {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("STARTTLS with an untrusted certificate → error, nothing sent", func(t *testing.T) {
		srv := startSMTP(t, func(s *smtpServer) { s.startTLS = true })
		err := notifier(t, srv, "smtp", "u:secret-pw@", nil).Send(ctx, msg)
		if err == nil || len(srv.messages()) != 0 {
			t.Fatalf("err %v, %d messages", err, len(srv.messages()))
		}
		if strings.Contains(err.Error(), "secret-pw") {
			t.Fatalf("error reveals the password: %v", err)
		}
	})

	t.Run("smtps → TLS from the first byte", func(t *testing.T) {
		srv := startSMTP(t, func(s *smtpServer) { s.implicit = true })
		if err := notifier(t, srv, "smtps", "u:p@", srv.certPool).Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if got := srv.messages(); len(got) != 1 || !got[0].TLS {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("a recipient refused by the server → error", func(t *testing.T) {
		srv := startSMTP(t, func(s *smtpServer) { s.rejectRcpt = "chef@example.com" })
		err := notifier(t, srv, "smtp", "", nil).Send(ctx, msg)
		if err == nil || !strings.Contains(err.Error(), "550") || len(srv.messages()) != 0 {
			t.Fatalf("err %v, %d messages", err, len(srv.messages()))
		}
	})

	t.Run("a server that never answers → Send ends with the context", func(t *testing.T) {
		srv := startSMTP(t, func(s *smtpServer) { s.stall = true })
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- notifier(t, srv, "smtp", "", nil).Send(cctx, msg) }()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
}

func TestSMTPRefusesInvalidMessages(t *testing.T) {
	srv := startSMTP(t, nil)
	n := notifier(t, srv, "smtp", "", nil)
	for name, m := range map[string]notify.Message{
		"no recipient":             {Subject: "s", Text: "t"},
		"line break in a subject":  {To: []string{"a@example.com"}, Subject: "s\r\nBcc: x@example.com", Text: "t"},
		"line break in an address": {To: []string{"a@example.com\r\nBcc: x@example.com"}, Subject: "s"},
		"not an address":           {To: []string{"nobody"}, Subject: "s"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := n.Send(context.Background(), m); !errors.Is(err, notify.ErrInvalidMessage) {
				t.Fatalf("err %v", err)
			}
		})
	}
	if got := srv.messages(); len(got) != 0 {
		t.Fatalf("%d messages sent", len(got))
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, raw := range []string{
		"http://mail.example.com?from=a@example.com",
		"smtp://?from=a@example.com",
		"smtp://mail.example.com",
		"smtp://mail.example.com?from=nobody",
		"smtp://u:secret-pw@mail.example.com:bad?from=a@example.com",
		"smtp://u:secret-pw@mail.example.com?from=" + url.QueryEscape("a@example.com\r\nBcc: b@example.com"),
	} {
		_, err := notify.ParseSMTPURL(raw)
		if err == nil {
			t.Errorf("%s: accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "secret-pw") {
			t.Errorf("error reveals the password: %v", err)
		}
	}
	if _, err := notify.ParseSMTPURL("smtps://mail.example.com?from=a@example.com"); err != nil {
		t.Fatal(err)
	}
}
