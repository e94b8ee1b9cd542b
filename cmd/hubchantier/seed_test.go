package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/seed"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// databaseURLs returns a fresh SQLite URL and, when HUB_TEST_POSTGRES_URL is
// set, a PostgreSQL URL on a fresh schema.
func databaseURLs(t *testing.T) map[string]string {
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "seed.db")}
	if testenv.PostgresURL() != "" {
		urls["postgres"] = testenv.Postgres(t).DSN
	}
	return urls
}

var summaryRe = regexp.MustCompile(`^seeded 300 chantiers, \d+ pointages, \d+ signalements, \d+ affectations, \d+ documents, 50 users \(\d+ rows\) in \S+ \[(SQLite|PostgreSQL), bulk load, \d+ rows/s\]\n$`)

func TestSeedCommand(t *testing.T) {
	for name, url := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			t.Setenv("HUB_DATABASE_URL", url)
			t.Setenv("HUB_BLOB_DIR", t.TempDir())
			ctx := context.Background()
			var stdout, stderr bytes.Buffer
			if err := run(ctx, []string{"seed", "--chantiers", "300", "--seed-value", "4", "--now", "2026-11-24"}, nil, &stdout, &stderr); err != nil {
				t.Fatalf("seed: %v (stderr %s)", err, stderr.String())
			}
			if !summaryRe.MatchString(stdout.String()) {
				t.Errorf("summary line %q", stdout.String())
			}
			// stderr is not a terminal here: one line per step, no bar.
			for _, step := range []string{"users", "chantiers", "pointages", "indexes", "analyze"} {
				if !strings.Contains(stderr.String(), "seed: "+step+" done in ") {
					t.Errorf("stderr lacks the %s step: %q", step, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "\r") || strings.Contains(stderr.String(), "\x1b[") {
				t.Errorf("control sequences on a non-terminal: %q", stderr.String())
			}

			err := run(ctx, []string{"seed", "--chantiers", "10"}, nil, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), "--append") {
				t.Errorf("second seed without --append: %v, want a refusal mentioning --append", err)
			}

			stdout.Reset()
			if err := run(ctx, []string{"seed", "--chantiers", "10", "--append", "--now", "2026-12-01"}, nil, &stdout, &stderr); err != nil {
				t.Fatalf("seed --append: %v", err)
			}
			if !strings.HasPrefix(stdout.String(), "seeded 10 chantiers") || !strings.Contains(stdout.String(), ", insert, ") {
				t.Errorf("append summary %q", stdout.String())
			}

			db, err := store.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			var n int
			if err := db.NewRaw("SELECT count(*) FROM chantiers").Scan(ctx, &n); err != nil {
				t.Fatal(err)
			}
			if n != 310 {
				t.Errorf("%d chantiers, want 310", n)
			}
		})
	}
}

func TestParseSeedArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want seed.Options
		err  string
	}{
		{"chantiers alone uses the defaults", []string{"--chantiers", "1000"},
			seed.Options{Chantiers: 1000, Seed: 1, Years: seed.DefaultYears}, ""},
		{"every flag", []string{"--chantiers=5", "--users=7", "--seed-value=99", "--append", "--now=2026-01-31", "--years=2"},
			seed.Options{Chantiers: 5, Users: 7, Seed: 99, Append: true, Now: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), Years: 2}, ""},
		{"missing --chantiers is an error", nil, seed.Options{}, "--chantiers is required"},
		{"negative chantiers are refused", []string{"--chantiers", "-3"}, seed.Options{}, "chantiers must be between"},
		{"too many chantiers are refused", []string{"--chantiers", "10000001"}, seed.Options{}, "chantiers must be between"},
		{"a malformed --now is refused", []string{"--chantiers", "1", "--now", "24/11/2026"}, seed.Options{}, "YYYY-MM-DD"},
		{"an unknown flag is refused", []string{"--chantiers", "1", "--fast"}, seed.Options{}, "flag provided but not defined"},
		{"a stray argument is refused", []string{"--chantiers", "1", "extra"}, seed.Options{}, "unexpected argument"},
		{"a non-numeric count is refused", []string{"--chantiers", "many"}, seed.Options{}, "invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSeedArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Chantiers != tc.want.Chantiers || got.Users != tc.want.Users || got.Seed != tc.want.Seed ||
				got.Append != tc.want.Append || !got.Now.Equal(tc.want.Now) || got.Years != tc.want.Years {
				t.Errorf("options %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzParseSeedArgs checks that any command line either fails cleanly or
// yields options that pass validation.
func FuzzParseSeedArgs(f *testing.F) {
	for _, s := range []string{"--chantiers 10", "--chantiers=1000000 --users 5 --append", "--now 2026-02-30 --chantiers 1",
		"--seed-value 18446744073709551615 --chantiers 1", "--years -1 --chantiers 2", "-chantiers=0x10", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		opt, err := parseSeedArgs(strings.Fields(line))
		if err != nil {
			return
		}
		if verr := opt.Validate(); verr != nil {
			t.Fatalf("accepted %q but the options are invalid: %v", line, verr)
		}
		if opt.Chantiers < 1 {
			t.Fatalf("accepted %q without chantiers", line)
		}
	})
}

// After seed (and seed --append), every seeded document downloads over
// HTTP with the size, digest and type its metadata records; --append adds
// related rows, not only chantiers.
func TestSeededDocumentsDownload(t *testing.T) {
	for name, url := range databaseURLs(t) {
		t.Run(name, func(t *testing.T) {
			blobs := t.TempDir()
			t.Setenv("HUB_DATABASE_URL", url)
			t.Setenv("HUB_BLOB_DIR", blobs)
			ctx := context.Background()
			if code, _, errOut := mainCLI(t, "", "seed", "--chantiers", "60", "--seed-value", "7"); code != 0 {
				t.Fatalf("seed: %d %s", code, errOut)
			}
			counts := func() map[string]int {
				db, err := store.Open(url)
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = db.Close() }()
				m := map[string]int{}
				for _, table := range []string{"chantiers", "pointages", "signalements", "affectations", "documents"} {
					var n int
					if err := db.NewRaw("SELECT count(*) FROM "+table).Scan(ctx, &n); err != nil {
						t.Fatal(err)
					}
					m[table] = n
				}
				return m
			}
			before := counts()
			if code, _, errOut := mainCLI(t, "", "seed", "--chantiers", "60", "--append"); code != 0 {
				t.Fatalf("seed --append: %d %s", code, errOut)
			}
			after := counts()
			for table, n := range before {
				if after[table] <= n {
					t.Errorf("seed --append: %s %d → %d", table, n, after[table])
				}
			}

			srv, err := server.New(ctx, server.Config{DatabaseURL: url, BlobDir: blobs, CacheMaxMB: -1,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			admin := &hubapi.User{Email: "dl@x.fr", Role: hubapi.RoleAdmin, Nom: "D", Prenom: "L"}
			if err := srv.Operator.CreateUser(ctx, admin, ""); err != nil {
				t.Fatal(err)
			}
			_, key, err := srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: admin.ID, Name: "dl", Scopes: []hubapi.Scope{hubapi.ScopeDocumentsRead}})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler)
			defer hs.Close()
			var docs []hubapi.Document
			if err := srv.DB.NewSelect().Model(&docs).Order("id").Scan(ctx); err != nil {
				t.Fatal(err)
			}
			if len(docs) != after["documents"] || len(docs) == 0 {
				t.Fatalf("%d documents", len(docs))
			}
			for _, d := range docs {
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/documents/%d/content", hs.URL, d.ID), nil)
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				sum := sha256.Sum256(body)
				if res.StatusCode != 200 || int64(len(body)) != d.Size || hex.EncodeToString(sum[:]) != d.SHA256 ||
					res.Header.Get("Content-Type") != d.MimeType {
					t.Fatalf("document %d (%s, %s, %d bytes): %d, %s, %d bytes", d.ID, d.Nom, d.MimeType, d.Size,
						res.StatusCode, res.Header.Get("Content-Type"), len(body))
				}
			}
		})
	}
}
