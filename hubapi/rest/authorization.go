package rest

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/problem"
)

// listAuthorizations serves GET /users/me/authorizations.
func (a *API) listAuthorizations(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	if err := q.err(); err != nil {
		a.writeError(w, r, err)
		return
	}
	list, err := a.o.Authorizations.MyAuthorizations(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusOK, map[string]any{"data": list}, listDTO(authorizationDTO))
}

// revokeAuthorization serves DELETE /users/me/authorizations/{client_id}.
func (a *API) revokeAuthorization(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["client_id"]
	if id == "" || len(id) > 64 {
		a.writeError(w, r, problem.New(http.StatusBadRequest, "invalid-id", "The client id in the path is malformed."))
		return
	}
	if err := a.o.Authorizations.RevokeMyAuthorization(r.Context(), id); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
