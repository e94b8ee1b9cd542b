package graphql

// gqlgen writes generated/ from schema.graphqls; seqlists then marshals
// the lists of objects without resolvers in order (see its doc).
//go:generate go tool gqlgen generate --config gqlgen.yml
//go:generate go run ./internal/seqlists generated/generated.go Chantier ChantierEdge CountByKey
