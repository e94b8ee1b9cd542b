package service

import (
	"context"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Stats implements hubapi.StatsService. Hours are those of the caller's
// visible pointages (a compagnon's own) in the current ISO week and month.
func (s *Service) Stats(ctx context.Context) (*hubapi.Stats, error) {
	p, err := allow(ctx, hubapi.ResourceStats, hubapi.ActionRead)
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

	// Counts come from the counters the store keeps exact in every write's
	// transaction: a few rows read, whatever the size of the tables.
	byStatut, err := store.Counters(ctx, s.idb(ctx), "chantiers")
	if err != nil {
		return nil, err
	}
	for _, c := range byStatut {
		st.ChantiersParStatut[c.K1] += c.N
		st.ChantiersTotal += c.N
	}
	bySignalement, err := store.Counters(ctx, s.idb(ctx), "signalements")
	if err != nil {
		return nil, err
	}
	for _, c := range bySignalement {
		if c.K1 == string(hubapi.SignalementOuvert) || c.K1 == string(hubapi.SignalementEnCours) {
			st.SignalementsOuvertsParGravite[c.K2] += c.N
			st.SignalementsOuverts += c.N
		}
	}

	sum := func(from hubapi.Date) (float64, error) {
		var minutes int64
		var err error
		if p.ReadsOwnRowsOnly(hubapi.ResourcePointages) {
			err = s.idb(ctx).NewSelect().Table("pointages").ColumnExpr("COALESCE(SUM(minutes), 0)").
				Where("user_id = ?", p.UserID).Where("date >= ?", from).Where("date <= ?", today).
				Where("statut <> ?", hubapi.PointageRejete).Scan(ctx, &minutes)
		} else {
			minutes, err = store.PointageMinutes(ctx, s.idb(ctx), from, today)
		}
		if err != nil {
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
