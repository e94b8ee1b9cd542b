package service

import (
	"context"

	"github.com/hubchantier/hubchantier/hubapi"
)

// Stats implements hubapi.StatsService. Hours are those of the caller's
// visible pointages (a compagnon's own) in the current ISO week and month.
func (s *Service) Stats(ctx context.Context) (*hubapi.Stats, error) {
	p, err := caller(ctx, hubapi.ScopeStatsRead)
	if err != nil {
		return nil, err
	}
	today := hubapi.DateOf(s.now())
	wd := int(today.Time().Weekday()+6) % 7 // Monday = 0
	week := today.AddDays(-wd)
	month := hubapi.NewDate(today.Time().Year(), today.Time().Month(), 1)
	st := &hubapi.Stats{ChantiersParStatut: map[string]int{}, SignalementsOuvertsParGravite: map[string]int{}, Semaine: week, Mois: month}
	for _, x := range hubapi.ChantierStatuts {
		st.ChantiersParStatut[string(x)] = 0
	}
	for _, g := range hubapi.Gravites {
		st.SignalementsOuvertsParGravite[string(g)] = 0
	}

	var byStatut []struct {
		Statut string
		N      int
	}
	if err := s.db.NewSelect().Table("chantiers").ColumnExpr("statut, count(*) AS n").Group("statut").Scan(ctx, &byStatut); err != nil {
		return nil, err
	}
	for _, r := range byStatut {
		st.ChantiersParStatut[r.Statut] = r.N
		st.ChantiersTotal += r.N
	}

	var byGravite []struct {
		Gravite string
		N       int
	}
	if err := s.db.NewSelect().Table("signalements").ColumnExpr("gravite, count(*) AS n").
		Where("statut IN ('ouvert','en_cours')").Group("gravite").Scan(ctx, &byGravite); err != nil {
		return nil, err
	}
	for _, r := range byGravite {
		st.SignalementsOuvertsParGravite[r.Gravite] = r.N
		st.SignalementsOuverts += r.N
	}

	sum := func(from hubapi.Date) (float64, error) {
		var minutes int64
		q := s.db.NewSelect().Table("pointages").ColumnExpr("COALESCE(SUM(minutes), 0)").
			Where("date >= ?", from).Where("date <= ?", today).Where("statut <> 'rejete'")
		if ownOnly(p) {
			q = q.Where("user_id = ?", p.UserID)
		}
		if err := q.Scan(ctx, &minutes); err != nil {
			return 0, err
		}
		return float64(minutes) / 60, nil
	}
	if st.HeuresSemaine, err = sum(week); err != nil {
		return nil, err
	}
	if st.HeuresMois, err = sum(month); err != nil {
		return nil, err
	}
	return st, nil
}
