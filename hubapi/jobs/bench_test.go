package jobs_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// BenchmarkCreateChantierOutbox measures what recording the event in the
// write's transaction adds to a creation (compare "without" and "with").
func BenchmarkCreateChantierOutbox(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		for _, withOutbox := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/outbox=%v", name, withOutbox), func(b *testing.B) {
				var tdb *testenv.DB
				if name == "sqlite" {
					tdb = testenv.SQLite(b)
				} else {
					tdb = testenv.Postgres(b)
				}
				db := migratedB(b, tdb)
				blobs, _ := blob.NewDir(b.TempDir())
				var opts []service.Option
				if withOutbox {
					q, err := jobs.New(context.Background(), db, jobs.Config{}) // not worked: only the insert is measured
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = q.Stop(context.Background()) })
					opts = append(opts, service.WithOutbox(q))
				}
				svc := service.New(db, blobs, opts...)
				ctx := hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: 1, Role: hubapi.RoleAdmin, Scopes: hubapi.RoleScopes(hubapi.RoleAdmin)})
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if _, err := svc.CreateChantier(ctx, hubapi.ChantierInput{Code: fmt.Sprintf("B-%d", i), Nom: "n", Adresse: "a"}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
