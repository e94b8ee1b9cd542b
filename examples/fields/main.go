// Command fields is a plain net/http server that shows the fields package:
// its handlers know nothing of sparse fieldsets and always encode the full
// representation; fields.Middleware validates ?fields= and projects their
// responses. The handlers still read the selection from the request context
// to skip work the client did not ask for (here: loading the responsable).
//
//	go run ./examples/fields -addr 127.0.0.1:8080
//	curl 'localhost:8080/api/v1/chantiers?fields=nom'                    # {"data":[{"id":1,"nom":...},...],"pagination":{...}}
//	curl 'localhost:8080/api/v1/chantiers/1?fields=nom,responsable(nom)' # {"id":1,"nom":...,"responsable":{"id":7,"nom":"Martin"}}
//	curl 'localhost:8080/api/v1/chantiers/1?fields=responsable.prenon'   # 400 problem+json, suggests "prenom"
//	curl 'localhost:8080/api/v1/chantiers/1?fields=password_hash'        # 400 problem+json: not selectable
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/problem"
)

// User is a user summary, as nested in a chantier.
type User struct {
	ID     int64  `json:"id"`
	Nom    string `json:"nom"`
	Prenom string `json:"prenom"`
}

// Chantier is the full v1 representation of a construction site.
type Chantier struct {
	ID          int64  `json:"id"`
	Nom         string `json:"nom"`
	Adresse     string `json:"adresse"`
	Statut      string `json:"statut"`
	Responsable *User  `json:"responsable"`
}

// Page is the list envelope: items under "data", as fields.Middleware expects
// by default.
type Page struct {
	Data       []Chantier `json:"data"`
	Pagination struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"pagination"`
}

// Schemas: the members clients may select. The storage rows behind them hold
// more (a password hash for users), which no selection can reach.
var (
	UserSummarySchema = fields.MustSchema(
		fields.F("id", "id"), fields.F("nom", "nom"), fields.F("prenom", "prenom"))
	ChantierSchema = fields.MustSchema(
		fields.F("id", "id"), fields.F("nom", "nom"), fields.F("adresse", "adresse"), fields.F("statut", "statut"),
		fields.Nested("responsable", UserSummarySchema, fields.Join("responsable")))
)

type userRow struct {
	User
	PasswordHash string
}

// store is an in-memory stand-in for a database.
type store struct {
	chantiers []Chantier
	users     map[int64]userRow
	owner     map[int64]int64 // chantier id → responsable id
}

func newStore() *store {
	return &store{
		chantiers: []Chantier{
			{ID: 1, Nom: "Résidence Les Tilleuls", Adresse: "12 rue des Lilas, Lyon", Statut: "en_cours"},
			{ID: 2, Nom: "Gare Nord", Adresse: "1 place de la Gare, Lille", Statut: "termine"},
			{ID: 3, Nom: "École Jules Ferry", Adresse: "4 avenue Foch, Nantes", Statut: "planifie"},
		},
		users: map[int64]userRow{7: {User{ID: 7, Nom: "Martin", Prenom: "Léa"}, "$argon2id$not-for-clients"}},
		owner: map[int64]int64{1: 7, 3: 7},
	}
}

// load returns a chantier, joining its responsable only when the selection
// asks for it: the push-down a SQL store does with sel.Joins()/sel.Columns().
func (s *store) load(c Chantier, sel *fields.Selection) Chantier {
	if sel.Has("responsable") {
		if u, ok := s.users[s.owner[c.ID]]; ok {
			summary := u.User
			c.Responsable = &summary
		}
	}
	return c
}

func (s *store) list(w http.ResponseWriter, r *http.Request) {
	sel, _ := fields.FromContext(r.Context())
	var page Page
	for _, c := range s.chantiers {
		page.Data = append(page.Data, s.load(c, sel))
	}
	writeJSON(w, r, page)
}

func (s *store) get(w http.ResponseWriter, r *http.Request) {
	sel, _ := fields.FromContext(r.Context())
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-id", "The id must be an integer."))
		return
	}
	for _, c := range s.chantiers {
		if c.ID == id {
			writeJSON(w, r, s.load(c, sel))
			return
		}
	}
	problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such chantier."))
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", "The response could not be produced."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// NewHandler returns the routes, each wrapped with the fields middleware,
// with problem types under https://example.com/problems/.
func NewHandler() http.Handler {
	s := newStore()
	withFields := fields.Middleware(ChantierSchema)
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/chantiers", withFields(http.HandlerFunc(s.list)))
	mux.Handle("GET /api/v1/chantiers/{id}", withFields(http.HandlerFunc(s.get)))
	return problem.WithTypeBase("https://example.com/problems/")(mux)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	srv := &http.Server{Addr: *addr, Handler: NewHandler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("listening on http://%s/api/v1/chantiers?fields=nom,responsable(nom)", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
