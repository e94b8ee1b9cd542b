package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// mainCLI runs Main and returns its exit status, stdout and stderr.
func mainCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut syncBuffer
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// Every command of the table, present and future, answers --help and -h
// with its usage and every flag on stdout (status 0), and an unknown flag or
// a missing required flag with its usage on stderr (status 2); none of them
// touches the database.
func TestEveryCommandHelpAndUsageErrors(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+dbPath)
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	for _, c := range commands() {
		words := strings.Fields(c.name)
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.setup(fs)
		var flags []string
		fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
		usage := "usage: hubchantier " + c.name
		t.Run(c.name, func(t *testing.T) {
			for _, help := range []string{"--help", "-h", "-help"} {
				code, out, errOut := mainCLI(t, "", append(words, help)...)
				if code != 0 || !strings.HasPrefix(out, usage) || errOut != "" {
					t.Errorf("%s %s: status %d, stdout %q, stderr %q", c.name, help, code, out, errOut)
				}
				for _, f := range flags {
					if !strings.Contains(out, "-"+f) {
						t.Errorf("%s %s does not show the flag -%s: %q", c.name, help, f, out)
					}
				}
			}
			for name, args := range map[string][]string{
				"unknown flag":     append(words, "--no-such-flag"),
				"stray argument":   append(words, "extra"),
				"flag not a value": append(words, "-"),
			} {
				code, out, errOut := mainCLI(t, "", args...)
				if code != 2 || !strings.Contains(errOut, usage) || out != "" {
					t.Errorf("%s (%v): status %d, stdout %q, stderr %q; want 2 and the usage on stderr", name, args, code, out, errOut)
				}
			}
			if len(c.required) > 0 {
				code, out, errOut := mainCLI(t, "", words...)
				if code != 2 || !strings.Contains(errOut, "missing --"+c.required[0]) || !strings.Contains(errOut, usage) || out != "" {
					t.Errorf("without its required flags: status %d, stdout %q, stderr %q", code, out, errOut)
				}
				for _, r := range c.required {
					if !strings.Contains(errOut, "--"+r) {
						t.Errorf("the missing --%s is not named: %q", r, errOut)
					}
				}
			}
		})
	}
	if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
		t.Errorf("help or a usage error opened the database: %v", err)
	}
}

func TestOverviewAndUnknownCommands(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, errOut := mainCLI(t, "", args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: status %d, stderr %q", args, code, errOut)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "  "+c.name+" ") {
				t.Errorf("%v does not list %q: %q", args, c.name, out)
			}
		}
		if !strings.Contains(out, "HUB_DATABASE_URL") {
			t.Errorf("%v does not list the environment: %q", args, out)
		}
	}
	if code, out, _ := mainCLI(t, "", "help", "apikey", "create"); code != 0 || !strings.HasPrefix(out, "usage: hubchantier apikey create") {
		t.Errorf("help apikey create: status %d, %q", code, out)
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"apikey"}, {"apikey", "frob"}, {"counters"}, {"counters", "fix"}, {"--addr", "x"}} {
		code, out, errOut := mainCLI(t, "", args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "usage: hubchantier <command>") {
			t.Errorf("%v: status %d, stdout %q, stderr %q; want 2 and the overview on stderr", args, code, out, errOut)
		}
	}
}

// apikey create --expires takes a positive duration: zero or a negative
// lifetime (a key dead at birth, or one mistaken for "no expiry") is refused.
func TestAPIKeyCreateExpires(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+dbPath)
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	if code, _, errOut := mainCLI(t, "", "user", "create", "--email", "ops@x.fr", "--role", "admin"); code != 0 {
		t.Fatalf("user create: %d %s", code, errOut)
	}
	for _, v := range []string{"0", "0s", "-1h", "-720h"} {
		code, out, errOut := mainCLI(t, "", "apikey", "create", "--user", "ops@x.fr", "--name", "n", "--scopes", "admin", "--expires", v)
		if code != 2 || out != "" || !strings.Contains(errOut, "--expires must be a positive duration") {
			t.Errorf("--expires %s: status %d, stdout %q, stderr %q", v, code, out, errOut)
		}
	}
	if code, _, errOut := mainCLI(t, "", "apikey", "create", "--user", "ops@x.fr", "--name", "n", "--scopes", "admin", "--expires", "soon"); code != 2 || !strings.Contains(errOut, "-expires") {
		t.Errorf("--expires soon: status %d, %q", code, errOut)
	}
	code, out, errOut := mainCLI(t, "", "apikey", "create", "--user", "ops@x.fr", "--name", "n", "--scopes", "admin", "--expires", "720h")
	if code != 0 || !hubapi.WellFormedAPIKey(strings.TrimSpace(out)) {
		t.Fatalf("--expires 720h: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	db, err := store.Open("sqlite:" + dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var keys []hubapi.APIKey
	if err := db.NewSelect().Model(&keys).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ExpiresAt == nil || time.Until(*keys[0].ExpiresAt) < 719*time.Hour || time.Until(*keys[0].ExpiresAt) > 720*time.Hour {
		t.Errorf("keys after the refusals and one 720h key: %+v", keys)
	}
}

// apikey create --allow-ip stores the allow-list (normalised); a bad entry
// is refused naming it, and no key is created.
func TestAPIKeyCreateAllowIP(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "hub.db")
	t.Setenv("HUB_DATABASE_URL", "sqlite:"+dbPath)
	t.Setenv("HUB_BLOB_DIR", filepath.Join(dir, "blobs"))
	if code, _, errOut := mainCLI(t, "", "user", "create", "--email", "ops@x.fr", "--role", "admin"); code != 0 {
		t.Fatalf("user create: %d %s", code, errOut)
	}
	code, out, errOut := mainCLI(t, "", "apikey", "create", "--user", "ops@x.fr", "--name", "n", "--scopes", "admin",
		"--allow-ip", "10.0.0.0/8", "--allow-ip", "10.0.0.0/33")
	if code == 0 || out != "" || !strings.Contains(errOut, "10.0.0.0/33") {
		t.Fatalf("bad entry: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = mainCLI(t, "", "apikey", "create", "--user", "ops@x.fr", "--name", "n", "--scopes", "admin",
		"--allow-ip", "10.1.2.3/8", "--allow-ip", "2001:db8::/32", "--auto-rotate", "--rotation-days", "30")
	if code != 0 || !hubapi.WellFormedAPIKey(strings.TrimSpace(out)) {
		t.Fatalf("status %d, stdout %q, stderr %q", code, out, errOut)
	}
	db, err := store.Open("sqlite:" + dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var keys []hubapi.APIKey
	if err := db.NewSelect().Model(&keys).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || strings.Join(keys[0].IPAllowlist, ",") != "10.0.0.0/8,2001:db8::/32" || !keys[0].AutoRotate || keys[0].RotationIntervalDays != 30 {
		t.Fatalf("keys: %+v", keys)
	}
}
