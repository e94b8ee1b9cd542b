package hubapi

// ProblemTypeBase is the base of the Hub Chantier API's problem type URIs
// (RFC 9457): the reference server answers "https://hubchantier.fr/problems/not-found"
// for the type code "not-found". Servers apply it with problem.WithTypeBase.
const ProblemTypeBase = "https://hubchantier.fr/problems/"
