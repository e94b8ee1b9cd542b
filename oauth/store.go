package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/models"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/internal/sqlscript"
)

//go:embed schema/postgres.sql
var schemaPostgres string

//go:embed schema/sqlite.sql
var schemaSQLite string

// SchemaSQL returns the statements that create the package's tables for a
// bun dialect ("pg" or "sqlite"), separated by "--bun:split" lines, so that
// an embedding product adds them to its own migrations (one migration path).
func SchemaSQL(d dialect.Name) string {
	if d == dialect.PG {
		return schemaPostgres
	}
	return schemaSQLite
}

// CreateSchema runs SchemaSQL on db (tests and programs without a migration
// tool of their own).
func CreateSchema(ctx context.Context, db bun.IDB) error {
	return sqlscript.Exec(ctx, db, SchemaSQL(db.Dialect().Name()))
}

// hashSecret is the stored form of a code, token or client secret: hex
// SHA-256. Every value hashed here carries at least 256 bits of randomness,
// so a fast hash leaves nothing to brute-force.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

type clientRow struct {
	bun.BaseModel `bun:"table:oauth_clients"`
	ID            int64      `bun:"id,pk,autoincrement"`
	ClientID      string     `bun:"client_id,notnull"`
	Name          string     `bun:"name,notnull"`
	SecretHash    string     `bun:"secret_hash,notnull"`
	RedirectURIs  string     `bun:"redirect_uris,notnull"`
	Scopes        string     `bun:"scopes,notnull"`
	Public        bool       `bun:"public,notnull"`
	RevokedAt     *time.Time `bun:"revoked_at"`
	CreatedAt     time.Time  `bun:"created_at,notnull"`
	UpdatedAt     time.Time  `bun:"updated_at,notnull"`
}

func (c *clientRow) client() *Client {
	var uris []string
	_ = json.Unmarshal([]byte(c.RedirectURIs), &uris)
	return &Client{ID: c.ClientID, Name: c.Name, RedirectURIs: uris, Scopes: strings.Fields(c.Scopes),
		Public: c.Public, CreatedAt: c.CreatedAt, RevokedAt: c.RevokedAt, secretHash: c.SecretHash}
}

type codeRow struct {
	bun.BaseModel `bun:"table:oauth_authorization_codes"`
	ID            int64      `bun:"id,pk,autoincrement"`
	CodeHash      string     `bun:"code_hash,notnull"`
	ClientID      string     `bun:"client_id,notnull"`
	Subject       string     `bun:"subject,notnull"`
	Scopes        string     `bun:"scopes,notnull"`
	RedirectURI   string     `bun:"redirect_uri,notnull"`
	CodeChallenge string     `bun:"code_challenge,notnull"`
	FamilyID      string     `bun:"family_id,notnull"`
	ExpiresAt     time.Time  `bun:"expires_at,notnull"`
	UsedAt        *time.Time `bun:"used_at"`
	CreatedAt     time.Time  `bun:"created_at,notnull"`
}

type tokenRow struct {
	bun.BaseModel    `bun:"table:oauth_tokens"`
	ID               int64      `bun:"id,pk,autoincrement"`
	FamilyID         string     `bun:"family_id,notnull"`
	ClientID         string     `bun:"client_id,notnull"`
	Subject          string     `bun:"subject,notnull"`
	Scopes           string     `bun:"scopes,notnull"`
	JTI              string     `bun:"jti,notnull"`
	AccessHash       string     `bun:"access_token_hash,notnull"`
	RefreshHash      *string    `bun:"refresh_token_hash"`
	AccessExpiresAt  time.Time  `bun:"access_expires_at,notnull"`
	RefreshExpiresAt *time.Time `bun:"refresh_expires_at"`
	RefreshUsedAt    *time.Time `bun:"refresh_used_at"`
	RevokedAt        *time.Time `bun:"revoked_at"`
	CreatedAt        time.Time  `bun:"created_at,notnull"`
}

type consentRow struct {
	bun.BaseModel `bun:"table:oauth_consents,alias:oauth_consent"`
	Subject       string    `bun:"subject,pk"`
	ClientID      string    `bun:"client_id,pk"`
	Scopes        string    `bun:"scopes,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull"`
	UpdatedAt     time.Time `bun:"updated_at,notnull"`
}

type keyRow struct {
	bun.BaseModel `bun:"table:oauth_signing_keys"`
	KID           string     `bun:"kid,pk"`
	Alg           string     `bun:"alg,notnull"`
	PrivateKey    []byte     `bun:"private_key,notnull"`
	CreatedAt     time.Time  `bun:"created_at,notnull"`
	RetiredAt     *time.Time `bun:"retired_at"`
}

// revokedToken is an access token that must be refused until it expires.
type revokedToken struct {
	JTI       string    `bun:"jti"`
	ExpiresAt time.Time `bun:"access_expires_at"`
}

// store is the bun storage of the package. It implements go-oauth2's
// ClientStore and TokenStore with hashed values and atomic consumption.
type store struct {
	db  bun.IDB
	now func() time.Time
	// sealer seals the signing private keys.
	sealer Sealer
	// onRevoke receives the access tokens a revocation made invalid.
	onRevoke func(ctx context.Context, revoked []revokedToken)
}

func (s *store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// GetByID implements oauth2.ClientStore: revoked clients do not exist.
func (s *store) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	c, err := s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *store) client(ctx context.Context, id string) (*Client, error) {
	if !validClientID(id) {
		return nil, oerrors.ErrInvalidClient
	}
	var row clientRow
	err := s.db.NewSelect().Model(&row).Where("client_id = ?", id).Where("revoked_at IS NULL").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, oerrors.ErrInvalidClient
	}
	if err != nil {
		return nil, err
	}
	return row.client(), nil
}

// validClientID reports whether id could be a client id: 1 to 64
// characters of [A-Za-z0-9_-] (others never reach the database).
func validClientID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Create implements oauth2.TokenStore: an authorization code, or an access
// token with its refresh token. Only hashes are written.
func (s *store) Create(ctx context.Context, info oauth2.TokenInfo) error {
	now := s.clock()
	ext := extension(info)
	if code := info.GetCode(); code != "" {
		row := &codeRow{CodeHash: hashSecret(code), ClientID: info.GetClientID(), Subject: info.GetUserID(),
			Scopes: info.GetScope(), RedirectURI: info.GetRedirectURI(), CodeChallenge: info.GetCodeChallenge(),
			FamilyID: randomToken(16), ExpiresAt: now.Add(info.GetCodeExpiresIn()), CreatedAt: now}
		_, err := s.db.NewInsert().Model(row).Exec(ctx)
		return err
	}
	family := ext.Get(extFamily)
	if family == "" {
		family = randomToken(16)
	}
	row := &tokenRow{FamilyID: family, ClientID: info.GetClientID(), Subject: info.GetUserID(), Scopes: info.GetScope(),
		JTI: ext.Get(extJTI), AccessHash: hashSecret(info.GetAccess()),
		AccessExpiresAt: info.GetAccessCreateAt().Add(info.GetAccessExpiresIn()).UTC().Truncate(time.Microsecond),
		CreatedAt:       now}
	if r := info.GetRefresh(); r != "" {
		h := hashSecret(r)
		exp := info.GetRefreshCreateAt().Add(info.GetRefreshExpiresIn()).UTC().Truncate(time.Microsecond)
		row.RefreshHash, row.RefreshExpiresAt = &h, &exp
	}
	_, err := s.db.NewInsert().Model(row).Exec(ctx)
	return err
}

const (
	extFamily = "family"
	extJTI    = "jti"
)

func extension(info oauth2.TokenInfo) url.Values {
	if e, ok := info.(oauth2.ExtendableTokenInfo); ok && e.GetExtension() != nil {
		return e.GetExtension()
	}
	return url.Values{}
}

// GetByCode implements oauth2.TokenStore. It consumes the code: one
// conditional UPDATE marks it used, so of concurrent exchanges exactly one
// gets it. A code presented again revokes the tokens issued from it
// (RFC 6749 §4.1.2).
func (s *store) GetByCode(ctx context.Context, code string) (oauth2.TokenInfo, error) {
	now := s.clock()
	hash := hashSecret(code)
	client, _ := ctx.Value(codeClientKey{}).(string)
	var row codeRow
	err := s.db.NewUpdate().Model(&row).Set("used_at = ?", now).
		Where("code_hash = ?", hash).Where("client_id = ?", client).Where("used_at IS NULL").Where("expires_at > ?", now).
		Returning("*").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		var used codeRow
		if err := s.db.NewSelect().Model(&used).Where("code_hash = ?", hash).Where("client_id = ?", client).
			Where("used_at IS NOT NULL").Limit(1).Scan(ctx); err == nil {
			if err := s.revokeWhere(ctx, "family_id = ?", used.FamilyID); err != nil {
				return nil, err
			}
		}
		return nil, oerrors.ErrInvalidAuthorizeCode
	}
	if err != nil {
		return nil, err
	}
	t := models.NewToken()
	t.Code, t.ClientID, t.UserID, t.Scope, t.RedirectURI = code, row.ClientID, row.Subject, row.Scopes, row.RedirectURI
	t.CodeChallenge, t.CodeChallengeMethod = row.CodeChallenge, string(oauth2.CodeChallengeS256)
	// The store's clock decided; the manager checks the same deadline
	// against its own clock.
	t.CodeCreateAt, t.CodeExpiresIn = time.Now(), row.ExpiresAt.Sub(now)
	t.Extension.Set(extFamily, row.FamilyID)
	return t, nil
}

// peekRefresh reads a refresh token's row without consuming it.
func (s *store) peekRefresh(ctx context.Context, refresh string) (*tokenRow, error) {
	var row tokenRow
	err := s.db.NewSelect().Model(&row).Where("refresh_token_hash = ?", hashSecret(refresh)).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, oerrors.ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, err
	}
	return &row, nil
}

// GetByRefresh implements oauth2.TokenStore. It consumes the refresh token
// (one conditional UPDATE): refresh tokens rotate on every use, and a used
// one presented again revokes its whole family.
func (s *store) GetByRefresh(ctx context.Context, refresh string) (oauth2.TokenInfo, error) {
	now := s.clock()
	hash := hashSecret(refresh)
	var row tokenRow
	err := s.db.NewUpdate().Model(&row).Set("refresh_used_at = ?", now).
		Where("refresh_token_hash = ?", hash).Where("refresh_used_at IS NULL").Where("revoked_at IS NULL").
		Where("refresh_expires_at > ?", now).Returning("*").Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		if prev, err := s.peekRefresh(ctx, refresh); err == nil && prev.RefreshUsedAt != nil {
			if err := s.revokeWhere(ctx, "family_id = ?", prev.FamilyID); err != nil {
				return nil, err
			}
		}
		return nil, oerrors.ErrInvalidRefreshToken
	}
	if err != nil {
		return nil, err
	}
	t := models.NewToken()
	t.Refresh, t.ClientID, t.UserID, t.Scope = refresh, row.ClientID, row.Subject, row.Scopes
	t.RefreshCreateAt, t.RefreshExpiresIn = time.Now(), row.RefreshExpiresAt.Sub(now)
	t.Extension.Set(extFamily, row.FamilyID)
	return t, nil
}

// GetByAccess implements oauth2.TokenStore.
func (s *store) GetByAccess(ctx context.Context, access string) (oauth2.TokenInfo, error) {
	var row tokenRow
	err := s.db.NewSelect().Model(&row).Where("access_token_hash = ?", hashSecret(access)).
		Where("revoked_at IS NULL").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, oerrors.ErrInvalidAccessToken
	}
	if err != nil {
		return nil, err
	}
	t := models.NewToken()
	t.Access, t.ClientID, t.UserID, t.Scope = access, row.ClientID, row.Subject, row.Scopes
	t.AccessCreateAt, t.AccessExpiresIn = row.CreatedAt, row.AccessExpiresAt.Sub(row.CreatedAt)
	t.Extension.Set(extFamily, row.FamilyID)
	t.Extension.Set(extJTI, row.JTI)
	return t, nil
}

// RemoveByCode implements oauth2.TokenStore: GetByCode already consumed it.
func (s *store) RemoveByCode(context.Context, string) error { return nil }

// RemoveByAccess implements oauth2.TokenStore: the token is revoked.
func (s *store) RemoveByAccess(ctx context.Context, access string) error {
	return s.revokeWhere(ctx, "access_token_hash = ?", hashSecret(access))
}

// RemoveByRefresh implements oauth2.TokenStore: the token is revoked.
func (s *store) RemoveByRefresh(ctx context.Context, refresh string) error {
	return s.revokeWhere(ctx, "refresh_token_hash = ?", hashSecret(refresh))
}

// revokeWhere revokes the matching tokens and reports the access tokens
// that must now be refused.
func (s *store) revokeWhere(ctx context.Context, where string, args ...any) error {
	var revoked []revokedToken
	err := s.db.NewUpdate().Model((*tokenRow)(nil)).Set("revoked_at = ?", s.clock()).
		Where(where, args...).Where("revoked_at IS NULL").
		Returning("jti, access_expires_at").Scan(ctx, &revoked)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if len(revoked) > 0 && s.onRevoke != nil {
		s.onRevoke(ctx, revoked)
	}
	return nil
}

// revokedSince lists the access tokens revoked at or after t that have not
// expired yet.
func (s *store) revokedSince(ctx context.Context, t time.Time) ([]revokedToken, error) {
	var out []revokedToken
	err := s.db.NewSelect().Model((*tokenRow)(nil)).Column("jti", "access_expires_at").
		Where("revoked_at >= ?", t).Where("access_expires_at > ?", s.clock()).Scan(ctx, &out)
	return out, err
}

// findToken returns the row of an access or refresh token, or nil.
func (s *store) findToken(ctx context.Context, tok string) (*tokenRow, error) {
	h := hashSecret(tok)
	var row tokenRow
	err := s.db.NewSelect().Model(&row).Where("access_token_hash = ? OR refresh_token_hash = ?", h, h).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &row, nil
}

func (s *store) insertClient(ctx context.Context, row *clientRow) error {
	_, err := s.db.NewInsert().Model(row).Exec(ctx)
	return err
}

func (s *store) listClients(ctx context.Context) ([]*Client, error) {
	var rows []clientRow
	if err := s.db.NewSelect().Model(&rows).Order("id").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*Client, len(rows))
	for i := range rows {
		out[i] = rows[i].client()
	}
	return out, nil
}

func (s *store) revokeClient(ctx context.Context, id string) error {
	now := s.clock()
	res, err := s.db.NewUpdate().Model((*clientRow)(nil)).Set("revoked_at = ?", now).Set("updated_at = ?", now).
		Where("client_id = ?", id).Where("revoked_at IS NULL").Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return s.revokeWhere(ctx, "client_id = ?", id)
}

func (s *store) consent(ctx context.Context, subject, clientID string) ([]string, error) {
	var row consentRow
	err := s.db.NewSelect().Model(&row).Where("subject = ?", subject).Where("client_id = ?", clientID).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.Fields(row.Scopes), nil
}

func (s *store) saveConsent(ctx context.Context, subject, clientID string, scopes []string) error {
	now := s.clock()
	row := &consentRow{Subject: subject, ClientID: clientID, Scopes: strings.Join(scopes, " "), CreatedAt: now, UpdatedAt: now}
	_, err := s.db.NewInsert().Model(row).
		On("CONFLICT (subject, client_id) DO UPDATE").Set("scopes = EXCLUDED.scopes").Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	return err
}

func (s *store) consents(ctx context.Context, subject string) ([]Authorization, error) {
	var rows []struct {
		consentRow `bun:",extend"`
		Name       string `bun:"client_name"`
	}
	err := s.db.NewSelect().Model((*consentRow)(nil)).
		ColumnExpr("oauth_consent.*").ColumnExpr("c.name AS client_name").
		Join("JOIN oauth_clients AS c ON c.client_id = oauth_consent.client_id").
		Where("oauth_consent.subject = ?", subject).Where("c.revoked_at IS NULL").
		Order("oauth_consent.client_id").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make([]Authorization, len(rows))
	for i, r := range rows {
		out[i] = Authorization{ClientID: r.ClientID, ClientName: r.Name, Scopes: strings.Fields(r.Scopes),
			CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}

func (s *store) forgetSubject(ctx context.Context, subject string) error {
	if _, err := s.db.NewDelete().Model((*consentRow)(nil)).Where("subject = ?", subject).Exec(ctx); err != nil {
		return err
	}
	if _, err := s.db.NewDelete().Model((*codeRow)(nil)).Where("subject = ?", subject).Exec(ctx); err != nil {
		return err
	}
	return s.revokeWhere(ctx, "subject = ?", subject)
}

func (s *store) deleteConsent(ctx context.Context, subject, clientID string) error {
	res, err := s.db.NewDelete().Model((*consentRow)(nil)).Where("subject = ?", subject).Where("client_id = ?", clientID).Exec(ctx)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	if err := s.revokeWhere(ctx, "subject = ? AND client_id = ?", subject, clientID); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *store) keys(ctx context.Context) ([]keyRow, error) {
	var rows []keyRow
	err := s.db.NewSelect().Model(&rows).Order("created_at").Scan(ctx)
	return rows, err
}

func (s *store) insertKey(ctx context.Context, row *keyRow) error {
	_, err := s.db.NewInsert().Model(row).Exec(ctx)
	return err
}

func (s *store) updateKey(ctx context.Context, kid string, privateKey []byte) error {
	_, err := s.db.NewUpdate().Model((*keyRow)(nil)).Set("private_key = ?", privateKey).Where("kid = ?", kid).Exec(ctx)
	return err
}

func (s *store) retireKeys(ctx context.Context, except string) error {
	_, err := s.db.NewUpdate().Model((*keyRow)(nil)).Set("retired_at = ?", s.clock()).
		Where("kid <> ?", except).Where("retired_at IS NULL").Exec(ctx)
	return err
}

func (s *store) deleteKeysRetiredBefore(ctx context.Context, t time.Time) error {
	_, err := s.db.NewDelete().Model((*keyRow)(nil)).Where("retired_at < ?", t).Exec(ctx)
	return err
}

// purge deletes expired codes and tokens whose refresh token expired.
func (s *store) purge(ctx context.Context) error {
	now := s.clock()
	if _, err := s.db.NewDelete().Model((*codeRow)(nil)).Where("expires_at < ?", now.Add(-time.Hour)).Exec(ctx); err != nil {
		return fmt.Errorf("purge codes: %w", err)
	}
	_, err := s.db.NewDelete().Model((*tokenRow)(nil)).Where("access_expires_at < ?", now).
		Where("refresh_expires_at IS NULL OR refresh_expires_at < ?", now).Exec(ctx)
	return err
}
