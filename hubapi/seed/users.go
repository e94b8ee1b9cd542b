package seed

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
)

// EmailDomain is the domain of the e-mail addresses of seeded users.
const EmailDomain = "seed.hubchantier.fr"

// roleWeights is the staff mix of a construction company: a few admins,
// works managers (conducteurs de travaux), site managers and many workers.
var roleWeights = []int{2, 8, 15, 75} // same order as hubapi.Roles

var emailFold = strings.NewReplacer(
	"à", "a", "â", "a", "ä", "a", "ç", "c", "é", "e", "è", "e", "ê", "e", "ë", "e", "î", "i", "ï", "i",
	"ô", "o", "ö", "o", "ù", "u", "û", "u", "ü", "u", "ÿ", "y", "œ", "oe", "æ", "ae", "'", "", "’", "", " ", "-",
)

// emailLocal turns a name into the ASCII local part of an address.
func emailLocal(prenom, nom string) string {
	return emailFold.Replace(strings.ToLower(prenom)) + "." + emailFold.Replace(strings.ToLower(nom))
}

// genUsers creates n users with ids after idBase, created in [fromUS, toUS)
// in id order. taken holds the e-mails already in use; new ones are added
// (a homonym gets a number: jean.martin2@...).
func genUsers(seed uint64, n int, idBase, fromUS, toUS int64, taken map[string]struct{}) []hubapi.User {
	rng := rand.New(rand.NewPCG(seed, 0x05e7_0000_0000_0001)) // #nosec G404 -- deterministic, seeded test data
	times := make([]int64, n)
	for i := range times {
		times[i] = between(rng, fromUS, toUS-1)
	}
	slices.Sort(times)
	users := make([]hubapi.User, n)
	for i := range users {
		u := &users[i]
		u.ID = idBase + int64(i) + 1
		if i < len(hubapi.Roles) && n >= len(hubapi.Roles) {
			u.Role = hubapi.Roles[i] // every role exists
		} else {
			u.Role = hubapi.Roles[pickWeights(rng, roleWeights)]
		}
		u.Prenom, u.Nom = pick(rng, prenoms), pick(rng, noms)
		local := emailLocal(u.Prenom, u.Nom)
		email := local + "@" + EmailDomain
		for k := 2; ; k++ {
			if _, dup := taken[email]; !dup {
				break
			}
			email = local + strconv.Itoa(k) + "@" + EmailDomain
		}
		taken[email] = struct{}{}
		u.Email = email
		u.CreatedAt = time.UnixMicro(times[i]).UTC()
		u.UpdatedAt = u.CreatedAt
		u.Version = 1
	}
	return users
}

// existingUser is a user already in the database.
type existingUser struct {
	id   int64
	role hubapi.Role
}

func buildPools(users []existingUser) pools {
	var p pools
	for _, u := range users {
		p.all = append(p.all, u.id)
		switch u.role {
		case hubapi.RoleAdmin:
			p.admins = append(p.admins, u.id)
		case hubapi.RoleConducteur:
			p.conducteurs = append(p.conducteurs, u.id)
		case hubapi.RoleChefChantier:
			p.chefs = append(p.chefs, u.id)
		case hubapi.RoleCompagnon:
			p.compagnons = append(p.compagnons, u.id)
		}
	}
	p.fill()
	return p
}

func roleOf(s string) hubapi.Role {
	r := hubapi.Role(s)
	if !r.Valid() {
		return ""
	}
	return r
}
