package seed_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/seed"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

func ExampleRun() {
	dir, err := os.MkdirTemp("", "hub-seed-example")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	ctx := context.Background()
	db, err := store.Open("sqlite:" + filepath.Join(dir, "hub.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if err := db.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	res, err := seed.Run(ctx, db, seed.Options{
		Chantiers: 500,
		Seed:      1,
		Now:       time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), // fixed: the same rows on every run
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Chantiers, "chantiers, codes", res.FirstCode, "to", res.LastCode)
	fmt.Println(res.Users, "users")

	// A second run needs Append.
	_, err = seed.Run(ctx, db, seed.Options{Chantiers: 10})
	fmt.Println(err)
	// Output:
	// 500 chantiers, codes CH-2020-0000001 to CH-2026-0000500
	// 50 users
	// seed: the database already holds chantiers (append to add more)
}
