package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/service"
)

// demoKeyName names the demo admin's key; demoKeyLifetime bounds it.
const (
	demoKeyName     = "demo"
	demoKeyLifetime = 30 * 24 * time.Hour
)

// seedDemo creates a small data set once (a rerun finds the demo admin and
// leaves the data as it is) and returns a fresh admin key valid
// demoKeyLifetime. Keys are stored hashed, so an earlier demo key cannot be
// shown again: the earlier demo keys are revoked instead, and at most one
// demo key is active.
func seedDemo(ctx context.Context, svc *service.Service, op *service.Operator) (string, error) {
	const adminEmail = "admin@demo.hubchantier.fr"
	admin, err := op.FindUserByEmail(ctx, adminEmail)
	if errors.Is(err, hubapi.ErrNotFound) {
		admin = &hubapi.User{Email: adminEmail, Nom: "Martin", Prenom: "Claire", Role: hubapi.RoleAdmin}
		if err := op.CreateUser(ctx, admin, ""); err != nil {
			return "", err
		}
		if err := demoData(ctx, svc, op, admin); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	actx := hubapi.WithPrincipal(ctx, &hubapi.Principal{UserID: admin.ID, Role: hubapi.RoleAdmin, Scopes: hubapi.AllScopes})
	keys, err := svc.ListAPIKeys(actx, admin.ID)
	if err != nil {
		return "", err
	}
	now := svcNow()
	for _, k := range keys {
		if k.Name == demoKeyName && k.Active(now) {
			if err := svc.RevokeAPIKey(actx, k.ID); err != nil {
				return "", err
			}
		}
	}
	expires := now.Add(demoKeyLifetime)
	_, secret, err := op.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: admin.ID, Name: demoKeyName, Scopes: hubapi.AllScopes, ExpiresAt: &expires})
	return secret, err
}

func demoData(ctx context.Context, svc *service.Service, op *service.Operator, admin *hubapi.User) error {
	ctx = hubapi.WithPrincipal(ctx, &hubapi.Principal{UserID: admin.ID, Role: hubapi.RoleAdmin, Scopes: hubapi.AllScopes})
	chef := &hubapi.User{Email: "chef@demo.hubchantier.fr", Nom: "Durand", Prenom: "Paul", Role: hubapi.RoleChefChantier}
	comp := &hubapi.User{Email: "compagnon@demo.hubchantier.fr", Nom: "Petit", Prenom: "Luc", Role: hubapi.RoleCompagnon}
	for _, u := range []*hubapi.User{chef, comp} {
		if err := op.CreateUser(ctx, u, ""); err != nil {
			return err
		}
	}
	sites := []struct{ code, nom, adresse, ville, cp string }{
		{"CH-2026-001", "Résidence Les Tilleuls", "12 rue des Tilleuls", "Lyon", "69003"},
		{"CH-2026-002", "École Jules Ferry — extension", "4 avenue Jean Jaurès", "Villeurbanne", "69100"},
		{"CH-2026-003", "Entrepôt logistique Nord", "ZI des Platières", "Vénissieux", "69200"},
	}
	today := hubapi.DateOf(svcNow())
	for i, s := range sites {
		c, err := svc.CreateChantier(ctx, hubapi.ChantierInput{Code: s.code, Nom: s.nom, Adresse: s.adresse, Ville: s.ville,
			CodePostal: s.cp, ClientNom: "Client " + fmt.Sprint(i+1), ResponsableID: &chef.ID, BudgetCents: int64(250000+i*100000) * 100,
			Statut: []hubapi.ChantierStatut{hubapi.ChantierEnCours, hubapi.ChantierOuvert, hubapi.ChantierEnCours}[i]})
		if err != nil {
			return err
		}
		for d := 0; d < 3; d++ {
			if _, err := svc.CreatePointage(ctx, hubapi.PointageInput{UserID: comp.ID, ChantierID: c.ID, Date: today.AddDays(-d),
				Minutes: 420 + 30*d, Statut: hubapi.PointageSoumis}); err != nil {
				return err
			}
			if _, err := svc.CreateAffectation(ctx, hubapi.AffectationInput{UserID: comp.ID, ChantierID: c.ID, Date: today.AddDays(d + i*3)}); err != nil {
				return err
			}
		}
		if _, err := svc.CreateSignalement(ctx, hubapi.SignalementInput{ChantierID: c.ID, Titre: "Garde-corps manquant niveau 2",
			Gravite: []hubapi.Gravite{hubapi.GraviteHaute, hubapi.GraviteMoyenne, hubapi.GraviteUrgente}[i]}); err != nil {
			return err
		}
	}
	return nil
}

func svcNow() time.Time { return time.Now() }
