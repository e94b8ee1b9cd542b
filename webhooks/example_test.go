package webhooks_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/webhooks"
)

// A receiver verifies each message against the raw body before decoding it,
// and ignores a webhook-id it has already processed (deliveries are at least
// once).
func ExampleVerifier() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // shown once when the subscription was created
	v, err := webhooks.NewVerifier(secret)
	if err != nil {
		panic(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || v.Verify(r.Header, body) != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})

	// What a sender does:
	key, _ := webhooks.ParseSecret(secret)
	body := `{"type":"ping","timestamp":"2026-12-07T02:00:00Z","data":{}}`
	req := httptest.NewRequest(http.MethodPost, "/hooks", strings.NewReader(body))
	webhooks.SetHeaders(req.Header, "msg_01", time.Now(), []byte(body), key)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output: 204
}
