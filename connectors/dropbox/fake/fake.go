// Package fake is an httptest fake of the parts of Dropbox's API v2 the
// dropbox connector uses, answering as Dropbox's documentation says:
//
//   - POST /oauth2/token (form): authorization_code with PKCE
//     (code_verifier checked against the S256 challenge), refresh_token
//     (a new access token, the refresh token unchanged); errors 400
//     {"error": "invalid_grant", "error_description": …};
//   - RPC endpoints (api.dropboxapi.com, JSON body): /2/users/get_current_account,
//     /2/files/get_metadata;
//   - content endpoints (content.dropboxapi.com, Dropbox-API-Arg header,
//     octet-stream body): /2/files/upload, /2/files/upload_session/start,
//     append_v2, finish;
//   - errors: 401 {"error_summary": "expired_access_token/", "error":
//     {".tag": "expired_access_token"}} (or invalid_access_token), 409
//     {"error_summary": "path/conflict/file/…", "error": {".tag": "path", …}},
//     409 incorrect_offset, 429 with Retry-After and {"error": {"reason":
//     {".tag": "too_many_requests"}, "retry_after": 1}}, 500.
//
// Files are kept in memory with their content_hash (computed here
// independently of the connector).
package fake

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"sync"
)

// Fault is an injected answer of a /2/ endpoint.
type Fault int

// Faults.
const (
	None Fault = iota
	// RateLimited answers 429 with Retry-After: 1.
	RateLimited
	// ServerError answers 500.
	ServerError
	// WrongHash answers the upload with a content_hash that is not the
	// file's.
	WrongHash
)

// Server is the fake Dropbox.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret string
	// Code is the authorization code the token endpoint accepts, with
	// Challenge (S256) when set.
	Code, Challenge string

	mu       sync.Mutex
	access   map[string]bool // access token → valid (false: expired)
	refresh  string
	files    map[string][]byte // lower-cased path → content
	names    map[string]string // lower-cased path → display path
	sessions map[string][]byte
	faults   []Fault
	n        int
	// Counters.
	Refreshes, Uploads, SessionStarts, Appends, Finishes int
}

// New starts a fake whose OAuth client is (clientID, secret).
func New(clientID, secret string) *Server {
	s := &Server{ClientID: clientID, ClientSecret: secret, access: map[string]bool{}, files: map[string][]byte{},
		names: map[string]string{}, sessions: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Grant issues tokens directly (as if the user had authorized): an access
// token and a refresh token.
func (s *Server) Grant() (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issue(), s.newRefresh()
}

func (s *Server) issue() string {
	s.n++
	t := fmt.Sprintf("sl.fake-access-%04d-SECRET", s.n)
	s.access[t] = true
	return t
}

func (s *Server) newRefresh() string {
	s.refresh = "fake-refresh-token-SECRET-" + strconv.Itoa(s.n)
	return s.refresh
}

// Expect sets the authorization code the token endpoint accepts next, and
// its S256 challenge ("" : any verifier).
func (s *Server) Expect(code, challenge string) {
	s.mu.Lock()
	s.Code, s.Challenge = code, challenge
	s.mu.Unlock()
}

// Counts are what the fake counted.
type Counts struct{ Refreshes, Uploads, SessionStarts, Appends, Finishes int }

// Counts returns the counters.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Counts{s.Refreshes, s.Uploads, s.SessionStarts, s.Appends, s.Finishes}
}

// ExpireAccessTokens makes every access token issued so far expired.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	for t := range s.access {
		s.access[t] = false
	}
	s.mu.Unlock()
}

// RevokeRefreshToken makes the refresh token invalid.
func (s *Server) RevokeRefreshToken() {
	s.mu.Lock()
	s.refresh = ""
	s.mu.Unlock()
}

// Inject queues faults for the next answers of /2/ endpoints.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// File returns a stored file's content by path (case-insensitive).
func (s *Server) File(p string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[strings.ToLower(p)]
	return b, ok
}

// Paths lists the stored files' display paths.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.names {
		out = append(out, p)
	}
	return out
}

// Put stores a file (a file already in the account).
func (s *Server) Put(p string, b []byte) {
	s.mu.Lock()
	s.files[strings.ToLower(p)], s.names[strings.ToLower(p)] = b, p
	s.mu.Unlock()
}

// ContentHash is Dropbox's content hash of b: SHA-256 over the SHA-256 of
// each 4 MiB block.
func ContentHash(b []byte) string {
	var all []byte
	for len(b) > 0 {
		n := min(len(b), 4<<20)
		d := sha256.Sum256(b[:n])
		all = append(all, d[:]...)
		b = b[n:]
	}
	sum := sha256.Sum256(all)
	return hex.EncodeToString(sum[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiErr(w http.ResponseWriter, status int, summary string, e any) {
	writeJSON(w, status, map[string]any{"error_summary": summary, "error": e})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/oauth2/token" {
		s.token(w, r)
		return
	}
	s.mu.Lock()
	f := None
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch f {
	case RateLimited:
		w.Header().Set("Retry-After", "1")
		apiErr(w, http.StatusTooManyRequests, "too_many_requests/..", map[string]any{"reason": map[string]string{".tag": "too_many_requests"}, "retry_after": 1})
		return
	case ServerError:
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	valid, known := s.access[tok]
	s.mu.Unlock()
	switch {
	case !ok || !known:
		apiErr(w, http.StatusUnauthorized, "invalid_access_token/", map[string]string{".tag": "invalid_access_token"})
		return
	case !valid:
		apiErr(w, http.StatusUnauthorized, "expired_access_token/", map[string]string{".tag": "expired_access_token"})
		return
	}
	var arg map[string]any
	if strings.HasPrefix(r.URL.Path, "/2/files/upload") {
		if r.Header.Get("Content-Type") != "application/octet-stream" {
			http.Error(w, "Error in call to API function: Bad HTTP \"Content-Type\" header", http.StatusBadRequest)
			return
		}
		if err := json.Unmarshal([]byte(r.Header.Get("Dropbox-API-Arg")), &arg); err != nil {
			http.Error(w, "Error in call to API function: could not decode Dropbox-API-Arg", http.StatusBadRequest)
			return
		}
	} else if err := json.NewDecoder(r.Body).Decode(&arg); err != nil && r.URL.Path != "/2/users/get_current_account" {
		http.Error(w, "Error in call to API function: request body: could not decode input as JSON", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	switch r.URL.Path {
	case "/2/users/get_current_account":
		writeJSON(w, http.StatusOK, map[string]any{"account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
			"name": map[string]string{"display_name": "Conducteur Travaux"}, "email": "conducteur@example.com"})
	case "/2/files/get_metadata":
		p, _ := arg["path"].(string)
		s.mu.Lock()
		b, ok := s.files[strings.ToLower(p)]
		name := s.names[strings.ToLower(p)]
		s.mu.Unlock()
		if !ok {
			apiErr(w, http.StatusConflict, "path/not_found/..", map[string]any{".tag": "path", "path": map[string]string{".tag": "not_found"}})
			return
		}
		writeJSON(w, http.StatusOK, metadata(name, b))
	case "/2/files/upload":
		s.mu.Lock()
		s.Uploads++
		s.mu.Unlock()
		s.commit(w, arg, body, f == WrongHash, false)
	case "/2/files/upload_session/start":
		s.mu.Lock()
		s.SessionStarts++
		id := "AAAAAAAAAGbkrCGP-sess" + strconv.Itoa(len(s.sessions)+1)
		s.sessions[id] = body
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"session_id": id})
	case "/2/files/upload_session/append_v2", "/2/files/upload_session/finish":
		cursor, _ := arg["cursor"].(map[string]any)
		id, _ := cursor["session_id"].(string)
		off, _ := cursor["offset"].(float64)
		s.mu.Lock()
		data, ok := s.sessions[id]
		if !ok {
			s.mu.Unlock()
			apiErr(w, http.StatusConflict, "lookup_failed/not_found/", map[string]any{".tag": "lookup_failed", "lookup_failed": map[string]string{".tag": "not_found"}})
			return
		}
		if int(off) != len(data) {
			s.mu.Unlock()
			apiErr(w, http.StatusConflict, "lookup_failed/incorrect_offset/", map[string]any{".tag": "lookup_failed",
				"lookup_failed": map[string]any{".tag": "incorrect_offset", "correct_offset": len(data)}})
			return
		}
		s.sessions[id] = append(data, body...)
		if r.URL.Path == "/2/files/upload_session/append_v2" {
			s.Appends++
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, nil)
			return
		}
		s.Finishes++
		all := s.sessions[id]
		delete(s.sessions, id)
		s.mu.Unlock()
		commit, _ := arg["commit"].(map[string]any)
		s.commit(w, commit, all, f == WrongHash, true)
	default:
		http.Error(w, "Unknown API function", http.StatusBadRequest)
	}
}

func metadata(display string, b []byte) map[string]any {
	return map[string]any{".tag": "file", "name": path.Base(display), "path_display": display, "path_lower": strings.ToLower(display),
		"id": "id:" + ContentHash([]byte(display))[:16], "size": len(b), "content_hash": ContentHash(b), "is_downloadable": true}
}

// commit stores an upload per its commit info (mode add).
func (s *Server) commit(w http.ResponseWriter, arg map[string]any, b []byte, wrongHash, session bool) {
	p, _ := arg["path"].(string)
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, `\<>:"|?*`) || strings.Contains(p, "//") {
		apiErr(w, http.StatusConflict, "path/malformed_path/", map[string]any{".tag": "path", "reason": map[string]string{".tag": "malformed_path"}})
		return
	}
	if mode, _ := arg["mode"].(string); mode != "add" {
		http.Error(w, "Error in call to API function: unexpected mode", http.StatusBadRequest)
		return
	}
	autorename, _ := arg["autorename"].(bool)
	s.mu.Lock()
	if _, taken := s.files[strings.ToLower(p)]; taken {
		if !autorename {
			s.mu.Unlock()
			// upload: UploadError.path is UploadWriteFailed {reason}; finish:
			// UploadSessionFinishError.path is a WriteError.
			e := map[string]any{".tag": "path", "reason": map[string]any{".tag": "conflict", "conflict": map[string]string{".tag": "file"}}}
			if session {
				e = map[string]any{".tag": "path", "path": map[string]any{".tag": "conflict", "conflict": map[string]string{".tag": "file"}}}
			}
			apiErr(w, http.StatusConflict, "path/conflict/file/..", e)
			return
		}
		ext := path.Ext(p)
		stem := strings.TrimSuffix(p, ext)
		for i := 1; ; i++ {
			np := fmt.Sprintf("%s (%d)%s", stem, i, ext)
			if _, taken := s.files[strings.ToLower(np)]; !taken {
				p = np
				break
			}
		}
	}
	s.files[strings.ToLower(p)], s.names[strings.ToLower(p)] = append([]byte(nil), b...), p
	s.mu.Unlock()
	md := metadata(p, b)
	if wrongHash {
		md["content_hash"] = ContentHash(append(b, 'x'))
	}
	writeJSON(w, http.StatusOK, md)
}

// token is the OAuth 2 token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.ClientID)) != 1 || subtle.ConstantTimeCompare([]byte(secret), []byte(s.ClientSecret)) != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client", "error_description": "Invalid client_id or client_secret"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		v := r.PostForm.Get("code_verifier")
		sum := sha256.Sum256([]byte(v))
		if s.Code == "" || r.PostForm.Get("code") != s.Code || len(v) < 43 ||
			(s.Challenge != "" && base64.RawURLEncoding.EncodeToString(sum[:]) != s.Challenge) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "code doesn't exist or has expired"})
			return
		}
		s.Code = "" // single use
		writeJSON(w, http.StatusOK, map[string]any{"access_token": s.issue(), "token_type": "bearer", "expires_in": 14400,
			"refresh_token": s.newRefresh(), "scope": "files.content.write files.metadata.read account_info.read",
			"uid": "12345", "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"})
	case "refresh_token":
		if s.refresh == "" || r.PostForm.Get("refresh_token") != s.refresh {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "refresh token is invalid or revoked"})
			return
		}
		s.Refreshes++
		writeJSON(w, http.StatusOK, map[string]any{"access_token": s.issue(), "token_type": "bearer", "expires_in": 14400})
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
	}
}
