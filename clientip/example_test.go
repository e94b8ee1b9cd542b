package clientip_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/hubchantier/hubchantier/clientip"
)

func Example() {
	proxies, err := clientip.ParsePrefixes("10.0.0.0/8") // e.g. from HUB_TRUSTED_PROXIES
	if err != nil {
		panic(err)
	}
	res, err := clientip.New(clientip.Config{TrustedProxies: proxies})
	if err != nil {
		panic(err)
	}
	h := res.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, clientip.FromContext(r.Context()))
	}))

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.2:443"                              // the load balancer
	r.Header.Set("X-Forwarded-For", "127.0.0.1, 198.51.100.7") // a spoofed entry, then the real client
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Print(w.Body.String())

	_, err = clientip.ParsePrefixes("10.0.0.0/8, proxy.internal")
	fmt.Println(err)
	// Output:
	// 198.51.100.7
	// invalid entry "proxy.internal": not an IP address
}
