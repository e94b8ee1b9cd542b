// Command etag is a plain net/http server that shows the etag package:
// every GET carries an ETag and is answered 304 when the client's copy is
// current, and every update is conditional (If-Match) and atomic.
//
//	go run ./examples/etag -addr 127.0.0.1:8080
//	curl -i localhost:8080/chantiers/1                           # ETag: "v1"
//	curl -i localhost:8080/chantiers/1 -H 'If-None-Match: "v1"'  # 304
//	curl -i -X PUT localhost:8080/chantiers/1 -d '{"nom":"B"}'   # 428
//	curl -i -X PUT localhost:8080/chantiers/1 -H 'If-Match: "v1"' -d '{"nom":"B"}'  # 200, ETag "v2"
//	curl -i -X PUT localhost:8080/chantiers/1 -H 'If-Match: "v1"' -d '{"nom":"C"}'  # 412
//
// Data lives in SQLite (a file in a temporary directory unless -db is given).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/problem"
)

// Chantier is a construction site. Version changes on every write; it is the
// entity tag of the resource ("v<version>").
type Chantier struct {
	bun.BaseModel `bun:"table:chantiers"`

	ID        int64     `bun:",pk,autoincrement" json:"id"`
	Nom       string    `bun:",notnull" json:"nom"`
	Version   int64     `bun:",notnull" json:"-"`
	UpdatedAt time.Time `bun:",notnull" json:"-"`
}

// Store keeps chantiers in a SQL database (SQLite or PostgreSQL through bun).
type Store struct{ db *bun.DB }

// ErrNotFound and ErrVersionConflict are returned by Store methods.
var (
	ErrNotFound        = errors.New("chantier not found")
	ErrVersionConflict = errors.New("chantier changed since it was read")
)

// Migrate creates the table.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.db.NewCreateTable().Model((*Chantier)(nil)).IfNotExists().Exec(ctx)
	return err
}

// Create inserts a chantier at version 1.
func (s *Store) Create(ctx context.Context, nom string) (Chantier, error) {
	c := Chantier{Nom: nom, Version: 1, UpdatedAt: time.Now().UTC()}
	_, err := s.db.NewInsert().Model(&c).Exec(ctx)
	return c, err
}

// Get returns one chantier or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Chantier, error) {
	var c Chantier
	err := s.db.NewSelect().Model(&c).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	return c, err
}

// List returns all chantiers by id.
func (s *Store) List(ctx context.Context) ([]Chantier, error) {
	cs := []Chantier{}
	err := s.db.NewSelect().Model(&cs).Order("id").Scan(ctx)
	return cs, err
}

// UpdateIfVersion renames the chantier only if it is still at version
// expected, and bumps the version. The check and the write are one statement,
// so two writers that read the same version cannot both succeed: the second
// gets ErrVersionConflict.
func (s *Store) UpdateIfVersion(ctx context.Context, id, expected int64, nom string) (Chantier, error) {
	now := time.Now().UTC()
	res, err := s.db.NewUpdate().Model((*Chantier)(nil)).
		Set("nom = ?", nom).
		Set("version = version + 1").
		Set("updated_at = ?", now).
		Where("id = ?", id).
		Where("version = ?", expected).
		Exec(ctx)
	if err != nil {
		return Chantier{}, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return Chantier{}, err
	} else if n == 0 {
		return Chantier{}, ErrVersionConflict
	}
	return Chantier{ID: id, Nom: nom, Version: expected + 1, UpdatedAt: now}, nil
}

// NewHandler returns the HTTP API. With requireIfMatch, updates without a
// precondition are refused with 428.
func NewHandler(store *Store, requireIfMatch bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chantiers", func(w http.ResponseWriter, r *http.Request) {
		cs, err := store.List(r.Context())
		if err != nil {
			serverError(w, r, err)
			return
		}
		// No ETag set here: ConditionalGET hashes the body.
		writeJSON(w, http.StatusOK, cs)
	})
	mux.HandleFunc("POST /chantiers", func(w http.ResponseWriter, r *http.Request) {
		nom, ok := decodeNom(w, r)
		if !ok {
			return
		}
		c, err := store.Create(r.Context(), nom)
		if err != nil {
			serverError(w, r, err)
			return
		}
		w.Header().Set("Location", "/chantiers/"+strconv.FormatInt(c.ID, 10))
		writeChantier(w, http.StatusCreated, c)
	})
	mux.HandleFunc("GET /chantiers/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := load(store, w, r)
		if ok {
			writeChantier(w, http.StatusOK, c) // ConditionalGET answers 304 from its ETag
		}
	})
	var put http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nom, ok := decodeNom(w, r)
		if !ok {
			return
		}
		cur, ok := load(store, w, r) // 404 takes precedence over preconditions
		if !ok {
			return
		}
		if err := etag.CheckPreconditions(r, etag.VersionTag(cur.Version), cur.UpdatedAt, true); err != nil {
			d, _ := problem.As(err) // only 412 for a PUT
			problem.Write(w, r, d)
			return
		}
		// The write is conditional on the version that passed the check.
		c, err := store.UpdateIfVersion(r.Context(), cur.ID, cur.Version, nom)
		if errors.Is(err, ErrVersionConflict) {
			problem.Write(w, r, etag.FailedProblem("The chantier was changed by another request; fetch it again and retry."))
			return
		}
		if err != nil {
			serverError(w, r, err)
			return
		}
		writeChantier(w, http.StatusOK, c)
	})
	if requireIfMatch {
		put = etag.RequirePrecondition(put)
	}
	mux.Handle("PUT /chantiers/{id}", put)
	return etag.ConditionalGET()(mux)
}

func load(store *Store, w http.ResponseWriter, r *http.Request) (Chantier, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such chantier."))
		return Chantier{}, false
	}
	c, err := store.Get(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such chantier."))
		return c, false
	}
	if err != nil {
		serverError(w, r, err)
		return c, false
	}
	return c, true
}

func decodeNom(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Nom string `json:"nom"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil || in.Nom == "" {
		d := problem.New(http.StatusUnprocessableEntity, "validation", "The body must be a JSON object with a non-empty nom.")
		d.Errors = []problem.FieldError{{Field: "nom", Message: "required"}}
		problem.Write(w, r, d)
		return "", false
	}
	return in.Nom, true
}

// writeChantier sends a chantier with its validators: the version tag and
// the modification time.
func writeChantier(w http.ResponseWriter, status int, c Chantier) {
	h := w.Header()
	h.Set("ETag", etag.VersionTag(c.Version).String())
	h.Set("Last-Modified", c.UpdatedAt.UTC().Format(http.TimeFormat))
	writeJSON(w, status, c)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "private, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func serverError(w http.ResponseWriter, r *http.Request, err error) {
	// The route pattern, not the raw path: logs carry no client-chosen text.
	slog.Error("request failed", "route", r.Pattern, "err", err)
	problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", "Internal error."))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dbPath := flag.String("db", "", "SQLite file (default: a new file in a temporary directory)")
	requireIfMatch := flag.Bool("require-if-match", true, "answer 428 to PUT without If-Match")
	flag.Parse()
	if err := run(*addr, *dbPath, *requireIfMatch); err != nil {
		log.Fatal(err)
	}
}

func run(addr, dbPath string, requireIfMatch bool) error {
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "etag-example-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "chantiers.db")
	}
	sqldb, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store := &Store{db: db}
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := store.Create(ctx, "Chantier Rivoli"); err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	srv := &http.Server{
		Addr:              addr,
		Handler:           NewHandler(store, requireIfMatch),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("listening on http://%s", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
