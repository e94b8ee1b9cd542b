// Command embed is another product's net/http server (orders on SQLite) built
// only from this module's reusable packages: pagination, fields, etag, ratelimit.
//
//	CURSOR_KEYS=$(openssl rand -base64 32) go run ./examples/embed # then GET /orders?limit=2&fields=number
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// newHandler wraps each route, outermost first: rate limit (outside etag, to refund
// 304s), conditional GET (outside fields, to tag the projected bytes), fields.
func newHandler(db *bun.DB, cursorKeys [][]byte, perMinute int64) (http.Handler, error) {
	rl, err := ratelimit.New(ratelimit.Config{
		Limits:            ratelimit.Limits{Default: []ratelimit.Policy{ratelimit.PerMinute(perMinute)}},
		Key:               clientIP,
		Route:             func(r *http.Request) string { return r.Pattern }, // "GET /orders/{id}"
		RefundNotModified: true,
	})
	if err != nil {
		return nil, err
	}
	wrap := func(h http.HandlerFunc) http.Handler {
		return rl.Middleware(etag.ConditionalGET()(fields.Middleware(orderFields)(h)))
	}
	o := &orders{db: db, pages: pagination.MustNew(pagination.MustNewCodec(cursorKeys), orderPages)}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", wrap(o.list))
	mux.Handle("GET /orders/{id}", wrap(o.get))
	return problem.WithTypeBase("https://example.com/problems/")(mux), nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	keys, err := pagination.ParseKeys(os.Getenv("CURSOR_KEYS"))
	if err != nil {
		log.Fatal(err)
	}
	db, err := openDB(context.Background(), "file:orders.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)", 25)
	h, herr := newHandler(db, keys, 120)
	if err = errors.Join(err, herr); err != nil {
		log.Fatal(err)
	}
	log.Fatal((&http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}).ListenAndServe())
}
