package server

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/connectors/gcal"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/problem"
)

// maxChannelHeader bounds the X-Goog-* values read.
const maxChannelHeader = 256

// mountConnectorNotifications adds the public route where Google Calendar
// posts its push notifications: no API key (the caller is Google), but the
// channel id and token must match a channel the server opened (the token's
// hash, compared in constant time); the body is never read, and a valid
// notification only queues a sync of the connector.
func (s *Server) mountConnectorNotifications(r *mux.Router, log *slog.Logger) {
	if s.connectors == nil {
		return
	}
	var queue service.NotificationQueue
	if s.Jobs != nil {
		queue = s.Jobs
	}
	recv := service.NewConnectorNotifications(s.DB, queue)
	r.HandleFunc("/api/v1/integrations/"+gcal.PathSlug+"/notifications", func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		n := service.Notification{ChannelID: h.Get("X-Goog-Channel-ID"), Token: h.Get("X-Goog-Channel-Token"),
			ResourceID: h.Get("X-Goog-Resource-ID"), State: h.Get("X-Goog-Resource-State")}
		if n.ChannelID == "" || len(n.ChannelID) > maxChannelHeader || len(n.Token) > maxChannelHeader ||
			len(n.ResourceID) > maxChannelHeader || len(n.State) > 32 {
			problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-notification", "X-Goog-Channel-ID is required; X-Goog-* values are at most 256 bytes."))
			return
		}
		err := recv.Notify(r.Context(), gcal.Type, n)
		switch {
		case err == nil:
			w.WriteHeader(http.StatusNoContent)
		case errors.Is(err, hubapi.ErrNotFound):
			problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such channel."))
		case errors.Is(err, hubapi.ErrUnauthenticated):
			problem.Write(w, r, problem.New(http.StatusUnauthorized, "unauthorized", "The channel token does not match."))
		default:
			log.ErrorContext(r.Context(), "push notification not handled", slog.String("error", err.Error()))
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "unavailable", "Try again later."))
		}
	}).Methods(http.MethodPost)
}
