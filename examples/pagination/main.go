// Command pagination serves a list of chantiers with cursor pagination
// written by hand over plain database/sql (SQLite, modernc driver): the
// pagination package only provides the cursor codec, the limit parser, the
// response envelope and the Link header.
//
//	go run ./examples/pagination -addr 127.0.0.1:8080
//	curl -i 'http://127.0.0.1:8080/chantiers?limit=3&statut=ouvert'
//
// Cursor keys come from CURSOR_KEYS (comma-separated base64, newest
// first; generate one with `openssl rand -base64 32`). Without it, a random
// key is used and cursors do not survive a restart.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dsn := flag.String("db", "file::memory:", "SQLite DSN")
	n := flag.Int("seed", 1000, "number of chantiers to create")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(*addr, *dsn, *n, log); err != nil {
		log.Error("stopped", "err", err)
		os.Exit(1)
	}
}

func run(addr, dsn string, n int, log *slog.Logger) error {
	keys, err := cursorKeys(log)
	if err != nil {
		return err
	}
	codec, err := pagination.NewCodec(keys)
	if err != nil {
		return err
	}
	db, err := openDB(context.Background(), dsn, n)
	if err != nil {
		return err
	}
	defer db.Close()
	srv := &http.Server{
		Addr:              addr,
		Handler:           newHandler(db, codec, log),
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Info("listening", "addr", addr)
	return srv.ListenAndServe()
}

func cursorKeys(log *slog.Logger) ([][]byte, error) {
	if s := os.Getenv("CURSOR_KEYS"); s != "" {
		return pagination.ParseKeys(s)
	}
	log.Warn("CURSOR_KEYS not set: using a random key, cursors will not survive a restart")
	key := make([]byte, pagination.KeySize)
	_, _ = rand.Read(key)
	return [][]byte{key}, nil
}

// openDB creates and fills the chantiers table. created_at is stored as Unix
// microseconds, so the values in cursors compare exactly.
func openDB(ctx context.Context, dsn string, n int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // an in-memory database lives in one connection
	stmts := []string{
		`CREATE TABLE chantiers (
			id integer PRIMARY KEY,
			nom text NOT NULL,
			statut text NOT NULL,
			created_at integer NOT NULL
		)`,
		`CREATE INDEX chantiers_created_at_id ON chantiers (created_at, id)`,
		`CREATE INDEX chantiers_statut_created_at_id ON chantiers (statut, created_at, id)`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	statuts := []string{"ouvert", "ouvert", "clos"}
	for i := 1; i <= n; i++ {
		// every fourth chantier shares its created_at with the previous one
		at := t0.Add(time.Duration(i-i/4) * time.Minute)
		if _, err := db.ExecContext(ctx, `INSERT INTO chantiers (id, nom, statut, created_at) VALUES (?, ?, ?, ?)`,
			i, fmt.Sprintf("Chantier %04d", i), statuts[i%len(statuts)], at.UnixMicro()); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	return db, nil
}

type chantierJSON struct {
	ID        int64     `json:"id"`
	Nom       string    `json:"nom"`
	Statut    string    `json:"statut"`
	CreatedAt time.Time `json:"created_at"`
}

// newHandler serves GET /chantiers?statut=&limit=&cursor=, newest first
// (created_at DESC, id DESC).
func newHandler(db *sql.DB, codec *pagination.Codec, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chantiers", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, err := pagination.ParseLimit(q)
		if d, ok := pagination.Problem(err); ok {
			problem.Write(w, r, d)
			return
		}
		statut := q.Get("statut")
		// The cursor is bound to everything that selects or orders rows.
		fp := pagination.NewFingerprint("chantiers", "-created_at,-id", url.Values{"statut": {statut}}.Encode())
		var cur pagination.Cursor
		if tok := q.Get("cursor"); tok != "" {
			if cur, err = codec.Decode(tok, fp); err != nil {
				d, _ := pagination.Problem(err)
				problem.Write(w, r, d)
				return
			}
		}
		page, err := fetch(r.Context(), db, codec, fp, statut, cur, limit)
		if d, ok := pagination.Problem(err); ok {
			// a cursor whose values do not fit this order
			problem.Write(w, r, d)
			return
		}
		if err != nil {
			log.Error("list chantiers", "err", err) // never the cursor
			problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", ""))
			return
		}
		pagination.WriteLink(w, r.URL, page.Pagination)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
	return mux
}

// The page queries: newest first; a previous page reads backward (oldest
// first) from the boundary and is reversed.
const (
	firstPage = `SELECT id, nom, statut, created_at FROM chantiers
		WHERE (? = '' OR statut = ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`
	nextPage = `SELECT id, nom, statut, created_at FROM chantiers
		WHERE (? = '' OR statut = ?) AND (created_at, id) < (?, ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`
	prevPage = `SELECT id, nom, statut, created_at FROM chantiers
		WHERE (? = '' OR statut = ?) AND (created_at, id) > (?, ?)
		ORDER BY created_at ASC, id ASC LIMIT ?`
)

// fetch runs one keyset query: limit+1 rows after (or, backward, before)
// the cursor's (created_at, id), then builds the envelope.
func fetch(ctx context.Context, db *sql.DB, codec *pagination.Codec, fp pagination.Fingerprint,
	statut string, cur pagination.Cursor, limit int) (*pagination.Page[chantierJSON], error) {
	query, args := firstPage, []any{statut, statut, limit + 1}
	if cur.Values != nil {
		if len(cur.Values) != 2 || cur.Inclusive {
			return nil, &pagination.CursorError{Reason: pagination.ReasonMalformed}
		}
		at, ok1 := cur.Values[0].(int64)
		id, ok2 := cur.Values[1].(int64)
		if !ok1 || !ok2 {
			return nil, &pagination.CursorError{Reason: pagination.ReasonMalformed}
		}
		query = nextPage
		if cur.Backward {
			query = prevPage
		}
		args = []any{statut, statut, at, id, limit + 1}
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	data := make([]chantierJSON, 0, limit+1)
	for rows.Next() {
		var c chantierJSON
		var micros int64
		if err := rows.Scan(&c.ID, &c.Nom, &c.Statut, &micros); err != nil {
			return nil, err
		}
		c.CreatedAt = time.UnixMicro(micros).UTC()
		data = append(data, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	more := len(data) > limit
	if more {
		data = data[:limit]
	}
	if cur.Backward {
		slices.Reverse(data)
	}
	page := &pagination.Page[chantierJSON]{Data: data}
	encode := func(c chantierJSON, backward bool) (string, error) {
		return codec.Encode(pagination.Cursor{Values: []any{c.CreatedAt.UnixMicro(), c.ID}, Backward: backward}, fp)
	}
	// (An empty page reached through a cursor, after concurrent deletions,
	// gets no cursors here; the bun helper of the package handles it.)
	if len(data) > 0 {
		first, last := data[0], data[len(data)-1]
		// Forward: more rows follow if the extra row came back; rows precede
		// if we came from a cursor. Backward: the reverse.
		if cur.Backward && more || !cur.Backward && cur.Values != nil {
			if page.Pagination.PrevCursor, err = encode(first, true); err != nil {
				return nil, err
			}
		}
		if !cur.Backward && more || cur.Backward {
			if page.Pagination.NextCursor, err = encode(last, false); err != nil {
				return nil, err
			}
		}
	}
	page.Pagination.HasMore = page.Pagination.NextCursor != ""
	return page, nil
}
