// Package fake is an httptest fake of the two Slack surfaces the slack
// connector uses, answering as Slack's documentation says they answer:
//
//   - the Web API (https://slack.com/api/…): POST /api/auth.test and POST
//     /api/chat.postMessage with "Authorization: Bearer xoxb-…" and a JSON
//     body; HTTP 200 with {"ok": true, …} or {"ok": false, "error":
//     "invalid_auth" | "not_authed" | "channel_not_found" | "not_in_channel"
//     | "invalid_blocks" | "no_text"}; HTTP 429 with Retry-After (seconds)
//     when rate limited (chat.postMessage: about one message per second per
//     channel);
//   - incoming webhooks (https://hooks.slack.com/services/T…/B…/secret):
//     POST of a JSON message, answered 200 "ok" (text/plain), 400
//     "invalid_payload", 403 "invalid_token", 404 "no_service", 410
//     "channel_is_archived", 429 with Retry-After, 500 "rollup_error".
//
// Faults are injected per answer (Inject).
package fake

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Fault is an injected answer.
type Fault int

// Faults.
const (
	None Fault = iota
	// RateLimited answers 429 with Retry-After: 1.
	RateLimited
	// ServerError answers 500 (Web API: a body that is not Slack's;
	// webhooks: "rollup_error").
	ServerError
	// Unavailable answers 503.
	Unavailable
)

// Message is a message the fake received.
type Message struct {
	// Via is "api" or "webhook".
	Via     string            `json:"-"`
	Channel string            `json:"channel"`
	Text    string            `json:"text"`
	Blocks  []json.RawMessage `json:"blocks"`
	At      time.Time         `json:"-"`
}

// Server is the fake Slack.
type Server struct {
	*httptest.Server
	// BotToken is the valid bot token; Channels the channels the bot is
	// in ("C0123" ids or "#names"); WebhookPath the valid incoming
	// webhook's path (/services/T…/B…/…).
	BotToken    string
	Channels    []string
	WebhookPath string

	mu       sync.Mutex
	faults   []Fault
	messages []Message
	archived bool
}

// New starts a fake Slack workspace.
func New(botToken, webhookPath string, channels ...string) *Server {
	s := &Server{BotToken: botToken, WebhookPath: webhookPath, Channels: channels}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Inject queues faults for the next answers, in order.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// ArchiveWebhookChannel makes the webhook's channel archived (410).
func (s *Server) ArchiveWebhookChannel() {
	s.mu.Lock()
	s.archived = true
	s.mu.Unlock()
}

// Messages returns the messages posted.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

func (s *Server) fault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return None
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method_not_allowed", http.StatusMethodNotAllowed)
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/services/"):
		s.serveWebhook(w, r)
	case r.URL.Path == "/api/auth.test" || r.URL.Path == "/api/chat.postMessage":
		s.serveAPI(w, r)
	default:
		// Slack answers unknown methods with 200 {"ok":false,"error":"unknown_method"}
		writeAPI(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func writeAPI(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	switch s.fault() {
	case RateLimited:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	case ServerError:
		http.Error(w, "<html>Internal Server Error</html>", http.StatusInternalServerError)
		return
	case Unavailable:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		writeAPI(w, map[string]any{"ok": false, "error": "not_authed"})
		return
	}
	if subtle.ConstantTimeCompare([]byte(auth), []byte("Bearer "+s.BotToken)) != 1 {
		writeAPI(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	if r.URL.Path == "/api/auth.test" {
		writeAPI(w, map[string]any{"ok": true, "url": "https://hub-chantier.slack.com/", "team": "Hub Chantier",
			"user": "hubbot", "team_id": "T0HUB", "user_id": "U0BOT", "bot_id": "B0BOT"})
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeAPI(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	var m Message
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&m); err != nil {
		writeAPI(w, map[string]any{"ok": false, "error": "invalid_json"})
		return
	}
	if m.Channel == "" {
		writeAPI(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	known := false
	for _, c := range s.Channels {
		known = known || c == m.Channel
	}
	if !known {
		writeAPI(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if m.Text == "" && len(m.Blocks) == 0 {
		writeAPI(w, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	if !validBlocks(m.Blocks) {
		writeAPI(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	m.Via, m.At = "api", time.Now()
	s.mu.Lock()
	s.messages = append(s.messages, m)
	ts := time.Now()
	s.mu.Unlock()
	writeAPI(w, map[string]any{"ok": true, "channel": m.Channel, "ts": ts.Format("20060102150405.000000")[8:],
		"message": map[string]any{"type": "message", "text": m.Text, "bot_id": "B0BOT"}})
}

// validBlocks checks what Slack checks first: each block has a known
// type, and section/context text objects have a type and text.
func validBlocks(blocks []json.RawMessage) bool {
	if len(blocks) > 50 {
		return false
	}
	for _, raw := range blocks {
		var b struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Fields []json.RawMessage `json:"fields"`
		}
		if json.Unmarshal(raw, &b) != nil {
			return false
		}
		switch b.Type {
		case "section", "header":
			if b.Type == "section" && b.Text == nil && len(b.Fields) > 0 && len(b.Fields) <= 10 {
				continue // a section of fields only
			}
			if b.Text == nil || (b.Text.Type != "mrkdwn" && b.Text.Type != "plain_text") || b.Text.Text == "" || len(b.Text.Text) > 3000 {
				return false
			}
			if b.Type == "header" && (b.Text.Type != "plain_text" || len([]rune(b.Text.Text)) > 150) {
				return false
			}
		case "context", "divider", "actions":
		default:
			return false
		}
	}
	return true
}

func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request) {
	text := func(status int, body string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
	switch s.fault() {
	case RateLimited:
		w.Header().Set("Retry-After", "1")
		text(http.StatusTooManyRequests, "rate_limited")
		return
	case ServerError:
		text(http.StatusInternalServerError, "rollup_error")
		return
	case Unavailable:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Path), []byte(s.WebhookPath)) != 1 {
		text(http.StatusNotFound, "no_service")
		return
	}
	s.mu.Lock()
	archived := s.archived
	s.mu.Unlock()
	if archived {
		text(http.StatusGone, "channel_is_archived")
		return
	}
	var m Message
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&m); err != nil || (m.Text == "" && len(m.Blocks) == 0) || !validBlocks(m.Blocks) {
		text(http.StatusBadRequest, "invalid_payload")
		return
	}
	m.Via, m.At = "webhook", time.Now()
	s.mu.Lock()
	s.messages = append(s.messages, m)
	s.mu.Unlock()
	text(http.StatusOK, "ok")
}
