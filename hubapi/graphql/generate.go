package graphql

// gqlgen writes generated/ from schema.graphqls; seqlists then marshals
// the lists of objects without resolvers in order, and fastlists makes the
// lists of connection nodes and edges try the one-pass encoder of
// generated/fastlists.go first (see their docs).
//go:generate go tool gqlgen generate --config gqlgen.yml
//go:generate go run ./internal/seqlists generated/generated.go Chantier ChantierEdge CountByKey
//go:generate go run ./internal/fastlists generated/generated.go Chantier ChantierEdge Pointage PointageEdge Document DocumentEdge Signalement SignalementEdge Affectation AffectationEdge
