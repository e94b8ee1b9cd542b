package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// The bare handler answers the benchmark's URLs with the same SQL as the
// full server's handlers (a list page without a cursor reads the total from
// the row counters, as the full server's offset mode does), through bun on
// the same connection pool, and nothing else:
// no authentication, rate limit, metrics, access log, cache, generic
// sparse-fieldset projection or sealed cursors. It only knows the fixed
// field list of the mix (listFields). Throughput of the full server divided
// by this is the cost of the pipeline.
const barePrefix = "/bare"

// bareChantier is the list projection of listFields, plus the sort key.
type bareChantier struct {
	bun.BaseModel `bun:"table:chantiers,alias:chantier"`
	ID            int64     `bun:"id" json:"id"`
	Code          string    `bun:"code" json:"code"`
	Nom           string    `bun:"nom" json:"nom"`
	Statut        string    `bun:"statut" json:"statut"`
	Ville         string    `bun:"ville" json:"ville"`
	UpdatedAt     time.Time `bun:"updated_at" json:"updated_at"`
	CreatedAt     time.Time `bun:"created_at" json:"-"`
}

type bareHandler struct{ db *store.DB }

func newBareHandler(db *store.DB) http.Handler {
	b := &bareHandler{db: db}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+barePrefix+"/chantiers", b.list)
	mux.HandleFunc("GET "+barePrefix+"/chantiers/{id}", b.get)
	mux.HandleFunc("PATCH "+barePrefix+"/chantiers/{id}", b.patch)
	mux.HandleFunc("GET "+barePrefix+"/stats", b.stats)
	mux.HandleFunc("GET "+barePrefix+"/planning", b.planning)
	return mux
}

func bareJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func bareFail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		http.Error(w, "not found", http.StatusNotFound)
	case errors.Is(err, context.Canceled):
		http.Error(w, "canceled", 499)
	default:
		http.Error(w, "database error", http.StatusInternalServerError)
	}
}

// bareCursor is "<created_at unix µs>.<id>" in base64url: plain keyset
// position, neither sealed nor fingerprinted.
func bareCursor(c *bareChantier) string {
	s := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func parseBareCursor(s string) (time.Time, int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, 0, false
	}
	ts, id, ok := strings.Cut(string(b), ".")
	us, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, false
	}
	return time.UnixMicro(us).UTC(), n, true
}

// list: ?limit=&cursor= (keyset on created_at DESC, id DESC) or ?offset=
// (only to find deep positions before the measured phase).
func (b *bareHandler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 || limit > 100 {
		limit = 20
	}
	var rows []bareChantier
	sel := b.db.NewSelect().Model(&rows).OrderExpr("created_at DESC, id DESC").Limit(int64(limit) + 1)
	if c := q.Get("cursor"); c != "" {
		at, id, ok := parseBareCursor(c)
		if !ok {
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
		sel = sel.Where("(created_at, id) < (?, ?)", at, id)
	} else if o := q.Get("offset"); o != "" {
		off, err := strconv.Atoi(o)
		if err != nil || off < 0 {
			http.Error(w, "bad offset", http.StatusBadRequest)
			return
		}
		sel = sel.Offset(int64(off))
	}
	if err := sel.Scan(r.Context()); err != nil && !errors.Is(err, sql.ErrNoRows) {
		bareFail(w, err)
		return
	}
	var total *int
	if q.Get("cursor") == "" {
		// The full server's page without a cursor (offset mode) reports
		// the total: the same counter read runs here.
		n, err := store.CountChantiers(r.Context(), b.db, hubapi.ChantierFilter{})
		if err != nil {
			bareFail(w, err)
			return
		}
		total = &n
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	var next *string
	if more {
		c := bareCursor(&rows[len(rows)-1])
		next = &c
	}
	if rows == nil {
		rows = []bareChantier{}
	}
	bareJSON(w, http.StatusOK, map[string]any{"data": rows, "pagination": map[string]any{"next_cursor": next, "has_more": more, "total": total}})
}

func (b *bareHandler) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	var c hubapi.Chantier
	if err := b.db.NewSelect().Model(&c).Where("id = ?", id).Scan(r.Context()); err != nil {
		bareFail(w, err)
		return
	}
	tag := `"v` + strconv.FormatInt(c.Version, 10) + `"`
	w.Header().Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	bareJSON(w, http.StatusOK, &c)
}

func (b *bareHandler) patch(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	im := r.Header.Get("If-Match")
	if len(im) < 4 || !strings.HasPrefix(im, `"v`) || !strings.HasSuffix(im, `"`) {
		http.Error(w, "If-Match required", http.StatusPreconditionRequired)
		return
	}
	version, err := strconv.ParseInt(im[2:len(im)-1], 10, 64)
	if err != nil {
		http.Error(w, "bad If-Match", http.StatusBadRequest)
		return
	}
	var in struct {
		Description *string `json:"description"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil || in.Description == nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	var c hubapi.Chantier
	err = b.db.NewUpdate().Model(&c).
		Set("description = ?", *in.Description).Set("version = version + 1").Set("updated_at = ?", store.Now()).
		Where("id = ?", id).Where("version = ?", version).Returning("*").Scan(r.Context())
	if errors.Is(err, sql.ErrNoRows) {
		http.Error(w, "precondition failed", http.StatusPreconditionFailed)
		return
	}
	if err != nil {
		bareFail(w, err)
		return
	}
	w.Header().Set("ETag", `"v`+strconv.FormatInt(c.Version, 10)+`"`)
	bareJSON(w, http.StatusOK, &c)
}

// stats reads the counters and daily minutes, as the service's Stats does.
func (b *bareHandler) stats(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	byStatut, err := store.Counters(ctx, b.db, "chantiers")
	if err != nil {
		bareFail(w, err)
		return
	}
	bySignalement, err := store.Counters(ctx, b.db, "signalements")
	if err != nil {
		bareFail(w, err)
		return
	}
	today := hubapi.DateOf(store.Now())
	week := today.AddDays(-(int(today.Time().Weekday()+6) % 7))
	month := hubapi.NewDate(today.Time().Year(), today.Time().Month(), 1)
	hw, err := store.PointageMinutes(ctx, b.db, week, today)
	if err != nil {
		bareFail(w, err)
		return
	}
	hm, err := store.PointageMinutes(ctx, b.db, month, today)
	if err != nil {
		bareFail(w, err)
		return
	}
	bareJSON(w, http.StatusOK, map[string]any{"chantiers": byStatut, "signalements": bySignalement,
		"heures_semaine": float64(hw) / 60, "heures_mois": float64(hm) / 60})
}

func (b *bareHandler) planning(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err1 := hubapi.ParseDate(q.Get("from"))
	to, err2 := hubapi.ParseDate(q.Get("to"))
	uid, err3 := strconv.ParseInt(q.Get("user_id"), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	var items []hubapi.Affectation
	sel := store.AffectationQuery(b.db.NewSelect().Model(&items), hubapi.AffectationFilter{UserID: uid, From: from, To: to})
	if err := sel.OrderExpr("?TableAlias.date, ?TableAlias.heure_debut, ?TableAlias.id").Limit(10000).Scan(r.Context()); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		bareFail(w, err)
		return
	}
	if items == nil {
		items = []hubapi.Affectation{}
	}
	bareJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "data": items})
}
