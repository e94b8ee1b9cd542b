package clientip_test

import (
	"net/http"
	"strings"
	"testing"
)

func BenchmarkResolve(b *testing.B) {
	res := mustResolver(b, "10.0.0.0/8, 172.16.0.0/12", 0)
	for _, bc := range []struct{ name, xff string }{
		{"direct", ""},
		{"one proxy", "198.51.100.7"},
		{"three proxies", "198.51.100.7, 10.0.0.3, 172.16.0.2"},
		{"long spoofed header", strings.Repeat("6.6.6.6, ", 500) + "198.51.100.7"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := &http.Request{Header: http.Header{}, RemoteAddr: "10.0.0.1:443"}
			if bc.xff != "" {
				r.Header.Set("X-Forwarded-For", bc.xff)
			}
			b.ReportAllocs()
			for b.Loop() {
				if !res.Resolve(r).IsValid() {
					b.Fatal("no address")
				}
			}
		})
	}
}
