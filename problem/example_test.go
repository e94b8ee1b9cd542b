package problem_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hubchantier/hubchantier/problem"
)

func Example() {
	orders := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := problem.New(http.StatusNotFound, "order-not-found", "No order 42.")
		problem.Write(w, r, d)
	})
	// The type base is chosen once per handler tree, outside every
	// middleware that may write problems.
	h := problem.WithTypeBase("https://example.com/problems/")(orders)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/orders/42", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Body.String())
	// Output:
	// 404 application/problem+json
	// {"type":"https://example.com/problems/order-not-found","title":"Not Found","status":404,"detail":"No order 42.","instance":"/orders/42"}
}
