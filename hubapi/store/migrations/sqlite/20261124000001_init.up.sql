CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    nom           TEXT NOT NULL DEFAULT '',
    prenom        TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('admin','conducteur','chef_chantier','compagnon')),
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    version       BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE chantiers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    code           TEXT NOT NULL UNIQUE,
    nom            TEXT NOT NULL,
    adresse        TEXT NOT NULL,
    ville          TEXT NOT NULL DEFAULT '',
    code_postal    TEXT NOT NULL DEFAULT '',
    statut         TEXT NOT NULL CHECK (statut IN ('ouvert','en_cours','receptionne','ferme')),
    client_nom     TEXT NOT NULL DEFAULT '',
    responsable_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    budget_cents   BIGINT NOT NULL DEFAULT 0,
    date_debut     DATE,
    date_fin       DATE,
    latitude       REAL,
    longitude      REAL,
    description    TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    version        BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE pointages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chantier_id BIGINT NOT NULL REFERENCES chantiers(id) ON DELETE RESTRICT,
    date        DATE NOT NULL,
    minutes     INTEGER NOT NULL CHECK (minutes > 0 AND minutes <= 1440),
    type        TEXT NOT NULL CHECK (type IN ('normal','nuit','weekend','ferie')),
    statut      TEXT NOT NULL CHECK (statut IN ('brouillon','soumis','valide','rejete')),
    commentaire TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE documents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chantier_id BIGINT NOT NULL REFERENCES chantiers(id) ON DELETE RESTRICT,
    nom         TEXT NOT NULL,
    categorie   TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    uploaded_by BIGINT NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    storage_key TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE signalements (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    chantier_id BIGINT NOT NULL REFERENCES chantiers(id) ON DELETE RESTRICT,
    titre       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    gravite     TEXT NOT NULL CHECK (gravite IN ('basse','moyenne','haute','urgente')),
    statut      TEXT NOT NULL CHECK (statut IN ('ouvert','en_cours','resolu','ferme')),
    created_by  BIGINT NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    assigned_to BIGINT REFERENCES users(id) ON DELETE SET NULL,
    resolved_at TIMESTAMP,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE affectations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chantier_id BIGINT NOT NULL REFERENCES chantiers(id) ON DELETE RESTRICT,
    date        DATE NOT NULL,
    heure_debut TEXT NOT NULL,
    heure_fin   TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    last_used_at TIMESTAMP,
    expires_at   TIMESTAMP,
    revoked_at   TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1
);
