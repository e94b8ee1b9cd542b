package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
	"github.com/hubchantier/hubchantier/problem"
)

// Order is both the row of the orders table and its JSON representation.
type Order struct {
	bun.BaseModel `bun:"table:orders,alias:o"`

	ID         int64     `bun:"id,pk,autoincrement" json:"id"`
	Number     string    `bun:"number,notnull,unique" json:"number"`
	Customer   string    `bun:"customer,notnull" json:"customer"`
	TotalCents int64     `bun:"total_cents,notnull" json:"total_cents"`
	Status     string    `bun:"status,notnull" json:"status"`
	CreatedAt  time.Time `bun:"created_at,notnull" json:"created_at"`
}

// orderFields lists the members clients may select with ?fields=.
var orderFields = fields.MustSchema(
	fields.F("id"), fields.F("number"), fields.F("customer"),
	fields.F("total_cents"), fields.F("status"), fields.F("created_at"))

// orderPages says how orders may be sorted and paged: newest first by
// default, or by total.
var orderPages = pagination.Spec[Order]{
	Resource: "orders",
	Columns: map[string]pagination.Column[Order]{
		"created_at":  {SQL: "o.created_at", Key: func(o *Order) any { return o.CreatedAt }},
		"total_cents": {SQL: "o.total_cents", Key: func(o *Order) any { return o.TotalCents }},
	},
	ID:      pagination.Column[Order]{SQL: "o.id", Key: func(o *Order) any { return o.ID }},
	Default: "-created_at",
}

// orders serves the orders table. Its handlers write full representations;
// fields.Middleware projects them.
type orders struct {
	db    *bun.DB
	pages *pagination.Paginator[Order]
}

// list serves GET /orders?limit=&sort=&cursor=: one keyset page in the
// {"data":[...],"pagination":{...}} envelope, with a Link header.
func (o *orders) list(w http.ResponseWriter, r *http.Request) {
	req, err := o.pages.ParseRequest(r.URL.Query())
	if d, ok := problem.As(err); ok {
		problem.Write(w, r, d) // 400 invalid-cursor or invalid-parameter
		return
	}
	page, err := bunkeyset.Fetch(r.Context(), o.pages, o.db.NewSelect().Model((*Order)(nil)), req)
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", ""))
		return
	}
	pagination.WriteLink(w, r.URL, page.Pagination)
	writeJSON(w, r, page)
}

// get serves GET /orders/{id}.
func (o *orders) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var order Order
	if err == nil {
		err = o.db.NewSelect().Model(&order).Where("o.id = ?", id).Scan(r.Context())
	}
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.Is(err, strconv.ErrSyntax), errors.Is(err, strconv.ErrRange):
		problem.Write(w, r, problem.New(http.StatusNotFound, "order-not-found", "No such order."))
	case err != nil:
		problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", ""))
	default:
		writeJSON(w, r, order)
	}
}

// clientIP is the rate-limit key: the peer address (behind a proxy, use a
// trusted-proxy resolver instead).
func clientIP(r *http.Request) (string, bool) {
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	return ip, true
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", ""))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// openDB opens the SQLite database, creates the orders table and, when it
// is empty, adds n orders an hour apart.
func openDB(ctx context.Context, dsn string, n int) (*bun.DB, error) {
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	if _, err := db.NewCreateTable().Model((*Order)(nil)).IfNotExists().Exec(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	if count, err := db.NewSelect().Model((*Order)(nil)).Count(ctx); err != nil || count > 0 || n == 0 {
		return db, err
	}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	rows := make([]Order, n)
	for i := range rows {
		rows[i] = Order{Number: fmt.Sprintf("A-%04d", i+1), Customer: "Customer " + strconv.Itoa(i%3+1),
			TotalCents: int64(1000 * (i%4 + 1)), Status: "paid", CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
	}
	_, err = db.NewInsert().Model(&rows).Exec(ctx)
	return db, err
}
