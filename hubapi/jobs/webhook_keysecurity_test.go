package jobs

import (
	"encoding/json"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
)

// api_key.rotated reaches the subscriptions of the key's owner only;
// api_key.anomaly those of admins only.
func TestKeyEventsReachTheirAudience(t *testing.T) {
	data, _ := json.Marshal(hubapi.APIKeyEventData{ID: 4, UserID: 7, Name: "k", Prefix: "hck_abcd"})
	sub := func(user int64, role hubapi.Role) subscriber {
		return subscriber{WebhookSubscription: hubapi.WebhookSubscription{ID: user, UserID: user, EventTypes: "*", Enabled: true}, OwnerRole: role}
	}
	owner, otherConducteur, admin := sub(7, hubapi.RoleConducteur), sub(8, hubapi.RoleConducteur), sub(1, hubapi.RoleAdmin)
	rotated := EventArgs{ID: "evt_1", Type: hubapi.EventAPIKeyRotated, Resource: "api_keys", ResourceID: 4, Data: data}
	anomaly := EventArgs{ID: "evt_2", Type: hubapi.EventAPIKeyAnomaly, Resource: "api_keys", ResourceID: 4, Data: data}
	for _, tc := range []struct {
		name string
		s    subscriber
		e    EventArgs
		want bool
	}{
		{"rotation → the key's owner", owner, rotated, true},
		{"rotation → not another conducteur", otherConducteur, rotated, false},
		{"rotation → not an admin who does not own the key", admin, rotated, false},
		{"anomaly → an admin", admin, anomaly, true},
		{"anomaly → not the key's owner (not an admin)", owner, anomaly, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wants(tc.s, tc.e); got != tc.want {
				t.Fatalf("wants = %v", got)
			}
		})
	}
}
