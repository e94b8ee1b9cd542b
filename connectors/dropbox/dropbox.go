// Package dropbox is the Dropbox connector: each document created in the
// Hub is uploaded to /Hub-Chantier/{chantier}/{categorie}/{nom} in the
// connected Dropbox account.
//
// Authorization is OAuth 2 with PKCE (S256) and offline access
// (token_access_type=offline: a refresh token), through the product's
// /integrations/dropbox/authorize and /integrations/dropbox/callback; the
// connector receives its access token from connectors.TokenSourceFrom, and
// an expired_access_token answer (401) leads to one refresh and one retry.
//
// Uploads follow Dropbox's API v2: /2/files/upload for files up to
// SessionThreshold (150 MB, Dropbox's limit for a single call), upload
// sessions above (upload_session/start, append_v2, finish), arguments in
// the Dropbox-API-Arg header; the content_hash Dropbox returns is checked
// against the file's (ContentHash: SHA-256 of the SHA-256 of each 4 MB
// block). A name already taken is resolved by content: the same content
// means the upload already happened (a retried delivery), another content
// is uploaded under Dropbox's automatic new name ("nom (1).pdf"). Names are
// made valid for Dropbox (Sanitize).
//
// The connector speaks plain HTTP rather than through the unofficial Dropbox
// SDK: it needs five endpoints, must refresh and retry on
// expired_access_token with the product's token store, stream files
// through the content hash, and classify '.tag' errors for the product's
// retries; the SDK brings its own authentication and error types for all
// of Dropbox's API, none of which it would save here.
package dropbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
)

// Type is the connector's type.
const Type = "dropbox"

// Dropbox's hosts.
const (
	APIBaseURL     = "https://api.dropboxapi.com"
	ContentBaseURL = "https://content.dropboxapi.com"
)

// EventDocumentCreated is the product's event the connector handles.
const EventDocumentCreated = "document.created"

// Defaults of Params.
const (
	// DefaultSessionThreshold: files above it go through an upload
	// session (Dropbox's single upload takes at most 150 MB).
	DefaultSessionThreshold = 150 << 20
	// DefaultChunkSize is the size of an upload session's chunks (a
	// multiple of 4 MB, as Dropbox asks).
	DefaultChunkSize = 8 << 20
)

// Spec is the connector's configuration: an optional root folder (default
// /Hub-Chantier); its credentials are the OAuth tokens.
var Spec = connectors.Spec{
	Type:     Type,
	Settings: []connectors.Field{{Name: "root", MaxLen: 200}},
	OAuth: &connectors.OAuthSpec{AuthURL: "https://www.dropbox.com/oauth2/authorize", TokenURL: "https://api.dropboxapi.com/oauth2/token",
		PKCE: true, AuthParams: map[string]string{"token_access_type": "offline"}},
	Events:       []string{EventDocumentCreated},
	EventTimeout: 30 * time.Minute, // uploads of large files
}

// Params tune uploads (tests use small ones).
type Params struct {
	SessionThreshold int64
	ChunkSize        int64
}

// Register adds the Dropbox connector to reg.
func Register(reg *connectors.Registry) error {
	return reg.Register(Spec, func(o connectors.Options) (connectors.Connector, error) { return New(o, Params{}) })
}

// New builds a connector.
func New(opts connectors.Options, p Params) (*Connector, error) {
	api, content := APIBaseURL, ContentBaseURL
	if opts.BaseURL != "" {
		api, content = opts.BaseURL, opts.BaseURL
	}
	au, err := url.Parse(api)
	cu, err2 := url.Parse(content)
	if err != nil || err2 != nil || au.Host == "" || cu.Host == "" {
		return nil, errors.New("dropbox: invalid base URL")
	}
	if p.SessionThreshold <= 0 {
		p.SessionThreshold = DefaultSessionThreshold
	}
	if p.ChunkSize <= 0 {
		p.ChunkSize = DefaultChunkSize
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: connectors.DefaultCallTimeout}
	}
	// Uploads of large files outlast the call timeout of a client: the
	// event timeout bounds them (the context).
	uc := *client
	uc.Timeout = 0
	return &Connector{api: au, content: cu, client: client, upload: &uc, p: p}, nil
}

// Connector is the Dropbox connector.
type Connector struct {
	api, content   *url.URL
	client, upload *http.Client
	p              Params
}

// Type implements connectors.Connector.
func (c *Connector) Type() string { return Type }

// Sync implements connectors.Connector: nothing is imported (yet).
func (c *Connector) Sync(context.Context, connectors.Config, connectors.State) (connectors.Result, connectors.State, error) {
	return connectors.Result{}, nil, nil
}

// apiError is Dropbox's error body: {"error_summary": "path/conflict/file/..",
// "error": {".tag": "path", "path": {".tag": "conflict", ...}}}.
type apiError struct {
	Summary string `json:"error_summary"`
	Error   struct {
		Tag  string `json:".tag"`
		Path struct {
			Tag string `json:".tag"`
		} `json:"path"`
		Reason struct {
			Tag string `json:".tag"`
		} `json:"reason"`
	} `json:"error"`
}

// errConflict is a path/conflict answer.
var errConflict = errors.New("dropbox: path conflict")

// errExpired is an expired_access_token answer.
var errExpired = errors.New("dropbox: expired access token")

// call sends one request (RPC: JSON body; content: Dropbox-API-Arg and a
// body stream) with a fresh token and decodes the answer into out. An
// expired token is refreshed and the call tried once more (only when
// body can be sent again: body is a func).
func (c *Connector) call(ctx context.Context, base *url.URL, path string, arg any, body func() io.Reader, out any) error {
	ts := connectors.TokenSourceFrom(ctx)
	if ts == nil {
		return &connectors.Error{Kind: connectors.KindAuth, Msg: "no OAuth token: authorize the connector"}
	}
	tok, err := ts.Token(ctx)
	if err != nil {
		return err
	}
	err = c.send(ctx, base, path, tok, arg, body, out)
	if errors.Is(err, errExpired) {
		if tok, err = ts.Refresh(ctx, tok); err != nil {
			return err
		}
		err = c.send(ctx, base, path, tok, arg, body, out)
		if errors.Is(err, errExpired) {
			return &connectors.Error{Kind: connectors.KindAuth, Status: http.StatusUnauthorized, Msg: "Dropbox refused the refreshed token (expired_access_token)"}
		}
	}
	return err
}

func (c *Connector) send(ctx context.Context, base *url.URL, path string, tok *oauth2.Token, arg any, body func() io.Reader, out any) error {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	argJSON, err := json.Marshal(arg)
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "unencodable argument"}
	}
	var req *http.Request
	client := c.client
	if body == nil { // RPC endpoint
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(argJSON))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else { // content endpoint
		client = c.upload
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u.String(), body())
		if err == nil {
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Dropbox-API-Arg", asciiJSON(argJSON))
		}
	}
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "building the request"}
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := client.Do(req) // #nosec G704 -- Dropbox's fixed hosts (or the test override)
	if err != nil {
		return connectors.DoJSON(ctx, &http.Client{Transport: failingTransport{err}}, req, nil)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if out == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			return nil
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, connectors.MaxResponseBytes)).Decode(out); err != nil {
			return &connectors.Error{Kind: connectors.KindMalformed, Status: resp.StatusCode, Msg: "Dropbox's answer is not the JSON expected"}
		}
		return nil
	}
	var e apiError
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &e)
	tag := safeTag(e.Error.Tag)
	retryAfter := connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	switch {
	case resp.StatusCode == http.StatusUnauthorized && e.Error.Tag == "expired_access_token":
		return errExpired
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &connectors.Error{Kind: connectors.KindAuth, Status: resp.StatusCode, Msg: "Dropbox refused the token (" + tag + ")"}
	case resp.StatusCode == http.StatusConflict && strings.HasPrefix(e.Summary, "path/conflict/"):
		// upload: error.reason is the WriteError; finish: error.path
		return errConflict
	case resp.StatusCode == http.StatusConflict && strings.HasPrefix(e.Summary, "path/insufficient_space/"):
		return &connectors.Error{Kind: connectors.KindRejected, Status: resp.StatusCode, Msg: "the Dropbox account is full (path/insufficient_space)"}
	case resp.StatusCode == http.StatusTooManyRequests:
		return &connectors.Error{Kind: connectors.KindRateLimited, Status: resp.StatusCode, RetryAfter: retryAfter, Msg: "Dropbox's rate limit (" + tag + ")"}
	case resp.StatusCode >= 500:
		return &connectors.Error{Kind: connectors.KindUnavailable, Status: resp.StatusCode, RetryAfter: retryAfter, Msg: "Dropbox failed"}
	}
	detail := tag
	if t := e.Error.Path.Tag + e.Error.Reason.Tag; t != "" {
		detail += "/" + safeTag(t)
	}
	return &connectors.Error{Kind: connectors.KindRejected, Status: resp.StatusCode, Msg: "Dropbox refused the request (" + detail + ")"}
}

// safeTag keeps a '.tag' that looks like one (it is quoted in errors).
func safeTag(t string) string {
	if t == "" || len(t) > 60 || strings.IndexFunc(t, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }) >= 0 {
		return "unknown"
	}
	return t
}

// asciiJSON escapes every non-ASCII character of a JSON text as \uXXXX:
// HTTP headers carry ASCII only, as Dropbox's documentation of
// Dropbox-API-Arg requires.
func asciiJSON(b []byte) string {
	var sb strings.Builder
	for _, r := range string(b) {
		switch {
		case r < 0x80:
			sb.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16Pair(r)
			sb.WriteString(`\u` + hex4(r1) + `\u` + hex4(r2))
		default:
			sb.WriteString(`\u` + hex4(r))
		}
	}
	return sb.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}

func hex4(r rune) string {
	s := strconv.FormatInt(int64(r), 16)
	return strings.Repeat("0", 4-len(s)) + s
}

// failingTransport hands DoJSON a transport error to classify (without the URL).
type failingTransport struct{ err error }

func (f failingTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// Check implements connectors.Connector: the token opens the account
// (users/get_current_account).
func (c *Connector) Check(ctx context.Context, _ connectors.Config) error {
	var acct struct {
		AccountID string `json:"account_id"`
	}
	if err := c.call(ctx, c.api, "/2/users/get_current_account", nil, nil, &acct); err != nil {
		return err
	}
	if acct.AccountID == "" {
		return &connectors.Error{Kind: connectors.KindMalformed, Msg: "Dropbox's account has no id"}
	}
	return nil
}

// Metadata is a file's metadata as Dropbox returns it.
type Metadata struct {
	Tag         string `json:".tag"`
	Name        string `json:"name"`
	PathDisplay string `json:"path_display"`
	ID          string `json:"id"`
	Size        int64  `json:"size"`
	ContentHash string `json:"content_hash"`
}

// HandleEvent implements connectors.Connector: a created document is
// uploaded with its content; its content_hash is checked.
func (c *Connector) HandleEvent(ctx context.Context, cfg connectors.Config, ev connectors.Event) error {
	if ev.Type != EventDocumentCreated {
		return nil
	}
	var doc struct {
		ID         int64  `json:"id"`
		ChantierID int64  `json:"chantier_id"`
		Nom        string `json:"nom"`
		Categorie  string `json:"categorie"`
		Size       int64  `json:"size"`
	}
	if json.Unmarshal(ev.Data, &doc) != nil || doc.Nom == "" {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "unreadable document event"}
	}
	if ev.Content == nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "the document's content is not available"}
	}
	chantier := "chantier-" + strconv.FormatInt(doc.ChantierID, 10)
	if raw, ok := ev.Related["chantier"]; ok {
		var ch struct {
			Nom string `json:"nom"`
		}
		if json.Unmarshal(raw, &ch) == nil && strings.TrimSpace(ch.Nom) != "" {
			chantier = ch.Nom
		}
	}
	root := "/Hub-Chantier"
	if r := strings.Trim(cfg.Setting("root"), "/ "); r != "" {
		root = ""
		for _, part := range strings.Split(r, "/") {
			root += "/" + Sanitize(part)
		}
	}
	path := root + "/" + Sanitize(chantier) + "/" + Sanitize(cmpOr(doc.Categorie, "autre")) + "/" + Sanitize(doc.Nom)
	return c.Upload(ctx, path, doc.Size, ev.Content)
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// Upload puts the content open returns at path (size bytes): one call up
// to SessionThreshold, an upload session above.
func (c *Connector) Upload(ctx context.Context, path string, size int64, open func(context.Context) (io.ReadCloser, error)) error {
	want, err := hashOf(ctx, open)
	if err != nil {
		return err
	}
	md, err := c.put(ctx, path, size, open, false)
	if errors.Is(err, errConflict) {
		// Taken: by this very file (a retried delivery), or by another.
		var cur Metadata
		if err := c.call(ctx, c.api, "/2/files/get_metadata", map[string]any{"path": path}, nil, &cur); err != nil {
			return err
		}
		if cur.Tag == "file" && cur.ContentHash == want {
			return nil
		}
		md, err = c.put(ctx, path, size, open, true)
	}
	if err != nil {
		return err
	}
	if md.ContentHash != want {
		return &connectors.Error{Kind: connectors.KindUnavailable, Msg: "the uploaded file's content_hash differs from the document's"}
	}
	return nil
}

// commitInfo is the commit of an upload: add, never overwrite.
func commitInfo(path string, autorename bool) map[string]any {
	return map[string]any{"path": path, "mode": "add", "autorename": autorename, "mute": true, "strict_conflict": false}
}

// put uploads the content: /2/files/upload, or a session above the
// threshold.
func (c *Connector) put(ctx context.Context, path string, size int64, open func(context.Context) (io.ReadCloser, error), autorename bool) (Metadata, error) {
	var md Metadata
	if size <= c.p.SessionThreshold {
		// small enough to be held in memory for a retry after a refresh
		b, err := readAll(ctx, open, c.p.SessionThreshold)
		if err != nil {
			return md, err
		}
		err = c.call(ctx, c.content, "/2/files/upload", commitInfo(path, autorename), func() io.Reader { return bytes.NewReader(b) }, &md)
		return md, err
	}
	rc, err := open(ctx)
	if err != nil {
		return md, contentError(err)
	}
	defer rc.Close()
	buf := make([]byte, c.p.ChunkSize)
	chunk := func() ([]byte, error) {
		n, err := io.ReadFull(rc, buf)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = nil
		}
		return buf[:n], err
	}
	first, err := chunk()
	if err != nil {
		return md, contentError(err)
	}
	var start struct {
		SessionID string `json:"session_id"`
	}
	if err := c.call(ctx, c.content, "/2/files/upload_session/start", map[string]any{"close": false},
		func() io.Reader { return bytes.NewReader(first) }, &start); err != nil {
		return md, err
	}
	if start.SessionID == "" {
		return md, &connectors.Error{Kind: connectors.KindMalformed, Msg: "Dropbox's session has no id"}
	}
	offset := int64(len(first))
	for {
		next, err := chunk()
		if err != nil {
			return md, contentError(err)
		}
		if len(next) < len(buf) { // the last chunk goes with finish
			err = c.call(ctx, c.content, "/2/files/upload_session/finish", map[string]any{
				"cursor": map[string]any{"session_id": start.SessionID, "offset": offset}, "commit": commitInfo(path, autorename)},
				func() io.Reader { return bytes.NewReader(next) }, &md)
			return md, err
		}
		if err := c.call(ctx, c.content, "/2/files/upload_session/append_v2", map[string]any{
			"cursor": map[string]any{"session_id": start.SessionID, "offset": offset}, "close": false},
			func() io.Reader { return bytes.NewReader(next) }, nil); err != nil {
			return md, err
		}
		offset += int64(len(next))
	}
}

func contentError(err error) error {
	var e *connectors.Error
	if errors.As(err, &e) {
		return e
	}
	return &connectors.Error{Kind: connectors.KindUnavailable, Msg: "reading the document's content failed"}
}

func readAll(ctx context.Context, open func(context.Context) (io.ReadCloser, error), limit int64) ([]byte, error) {
	rc, err := open(ctx)
	if err != nil {
		return nil, contentError(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, contentError(err)
	}
	return b, nil
}

func hashOf(ctx context.Context, open func(context.Context) (io.ReadCloser, error)) (string, error) {
	rc, err := open(ctx)
	if err != nil {
		return "", contentError(err)
	}
	defer rc.Close()
	h := NewContentHash()
	if _, err := io.Copy(h, rc); err != nil {
		return "", contentError(err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BlockSize is the block of Dropbox's content hash.
const BlockSize = 4 << 20

// contentHash is Dropbox's content hash: the SHA-256 of the concatenated
// SHA-256 digests of each 4 MB block.
type contentHash struct {
	digests []byte
	block   hash.Hash
	n       int
}

// NewContentHash returns a hash.Hash computing Dropbox's content_hash
// (https://www.dropbox.com/developers/reference/content-hash).
func NewContentHash() hash.Hash { return &contentHash{block: sha256.New()} }

func (h *contentHash) Write(p []byte) (int, error) {
	written := len(p)
	for len(p) > 0 {
		take := min(len(p), BlockSize-h.n)
		h.block.Write(p[:take])
		h.n += take
		p = p[take:]
		if h.n == BlockSize {
			h.digests = h.block.Sum(h.digests)
			h.block.Reset()
			h.n = 0
		}
	}
	return written, nil
}

func (h *contentHash) Sum(b []byte) []byte {
	all := h.digests
	if h.n > 0 {
		all = h.block.Sum(append([]byte(nil), h.digests...))
	}
	sum := sha256.Sum256(all)
	return append(b, sum[:]...)
}

func (h *contentHash) Reset()         { h.digests = h.digests[:0]; h.block.Reset(); h.n = 0 }
func (h *contentHash) Size() int      { return sha256.Size }
func (h *contentHash) BlockSize() int { return sha256.BlockSize }

// Sanitize makes a name valid as one component of a Dropbox path: no
// '/', '\', '<', '>', ':', '"', '|', '?', '*' nor control characters
// (replaced by '_'), no leading or trailing spaces, no trailing dot, not
// "." or "..", at most 255 bytes, never empty.
func Sanitize(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), strings.ContainsRune(`/\<>:"|?*`, r), r == 0xFEFF, r >= 0xFFF0 && r <= 0xFFFF:
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	s := b.String()
	for len(s) > 255 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	for { // trailing dots and spaces, until none is left (". ." → "")
		t := strings.TrimRight(strings.TrimSpace(s), ".")
		if t == s {
			break
		}
		s = t
	}
	if s == "" {
		return "_"
	}
	return s
}
