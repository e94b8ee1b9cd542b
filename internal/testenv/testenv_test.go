package testenv_test

import (
	"context"
	"testing"

	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestDatabasesAreIsolated(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE probe (id integer primary key)"); err != nil {
			t.Fatal(err)
		}
		other := testenv.Databases(t)
		for _, o := range other {
			if o.Name != db.Name {
				continue
			}
			// a second database of the same kind must not see the table
			if _, err := o.ExecContext(ctx, "SELECT * FROM probe"); err == nil {
				t.Fatalf("%s: databases are not isolated", db.Name)
			}
		}
	})
}

func TestRedis(t *testing.T) {
	c := testenv.Redis(t)
	k := testenv.Prefix(t) + "k"
	if err := c.Set(context.Background(), k, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	defer c.Del(context.Background(), k)
	if v, _ := c.Get(context.Background(), k).Result(); v != "v" {
		t.Fatalf("got %q", v)
	}
}
