package main

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A bad value of any HUB_* variable stops serve, with a message naming the
// variable, before anything listens; a secret value is never repeated.
func TestServeRefusesBadConfiguration(t *testing.T) {
	const secret = "s3cr3tValue"
	tests := []struct {
		name, variable, value string
	}{
		{"boolean other than 1/0/true/false", "HUB_RATE_LIMIT_FAIL_CLOSED", "yes"},
		{"CORS wildcard", "HUB_CORS_ORIGINS", "*"},
		{"CORS origin with a path", "HUB_CORS_ORIGINS", "https://app.example.com/app"},
		{"trusted proxy not a CIDR", "HUB_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"cache size not a number", "HUB_CACHE_MAX_MB", "lots"},
		{"rate limit for a route that does not exist", "HUB_RATE_LIMITS", "GET /api/v1/chantier=5/m"},
		{"listen address without a port", "HUB_ADDR", "localhost"},
		{"metrics address without a port", "HUB_METRICS_ADDR", "localhost"},
		{"database URL of an unknown kind", "HUB_DATABASE_URL", "mysql://hub:" + secret + "@db/hub"},
		{"Redis URL of an unknown kind", "HUB_REDIS_URL", "http://:" + secret + "@redis:6379"},
		{"cursor keys not base64 keys", "HUB_CURSOR_KEYS", secret},
		{"metrics networks", "HUB_METRICS_ALLOWED_CIDRS", "localhost"},
		{"metrics password hash not bcrypt", "HUB_METRICS_PASSWORD_HASH", secret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("HUB_DATABASE_URL", "sqlite:"+filepath.Join(dir, "hub.db"))
			t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
			t.Setenv("HUB_METRICS_USER", "prometheus")
			t.Setenv("HUB_METRICS_PASSWORD_HASH", "$2a$04$abcdefghijklmnopqrstuu5sxbnvJK9WZ4ZNp7JmB3Kdgbz1z9ETm")
			t.Setenv(tc.variable, tc.value)
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			addr := ln.Addr().String()
			_ = ln.Close()
			// Should serve wrongly accept the value, it stops after a while
			// and the nil error fails the test.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			err := run(ctx, []string{"serve", "--addr", addr}, strings.NewReader(""), &stdout, &stderr)
			out := stdout.String()
			if err == nil {
				t.Fatalf("serve accepted %s=%q: %q", tc.variable, tc.value, out)
			}
			if !strings.Contains(err.Error(), tc.variable) {
				t.Errorf("error does not name %s: %v", tc.variable, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error repeats a secret: %v", err)
			}
			if strings.Contains(out, "listening") {
				t.Errorf("serve listened: %q", out)
			}
		})
	}
}

// The administration commands read the same configuration: a bad value
// stops them too.
func TestAdminCommandsRefuseBadConfiguration(t *testing.T) {
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "hub.db"))
	t.Setenv("HUB_RATE_LIMIT_FAIL_CLOSED", "maybe")
	for _, args := range [][]string{{"migrate"}, {"counters", "check"}, {"seed", "--chantiers", "1"}} {
		if _, err := runCLI(t, "", args...); err == nil || !strings.Contains(err.Error(), "HUB_RATE_LIMIT_FAIL_CLOSED") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
