package hubapi

import "context"

// Stats is the dashboard summary of GET /stats.
type Stats struct {
	ChantiersParStatut            map[string]int `json:"chantiers_par_statut"`
	ChantiersTotal                int            `json:"chantiers_total"`
	HeuresSemaine                 float64        `json:"heures_semaine"`
	HeuresMois                    float64        `json:"heures_mois"`
	SignalementsOuvertsParGravite map[string]int `json:"signalements_ouverts_par_gravite"`
	SignalementsOuverts           int            `json:"signalements_ouverts"`
	// Semaine and Mois are the first days of the current ISO week and month.
	Semaine Date `json:"semaine"`
	Mois    Date `json:"mois"`
}

// StatsService computes summaries (stats:read).
type StatsService interface {
	Stats(ctx context.Context) (*Stats, error)
}
