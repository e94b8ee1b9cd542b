-- The accounting resources: clients (Sage tiers), factures (invoices of a
-- chantier's work to a client) and dépenses (expenses of a chantier), with
-- the vendor reference they were imported from or exported to.
CREATE TABLE clients (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    code            TEXT NOT NULL DEFAULT '',
    nom             TEXT NOT NULL,
    email           TEXT NOT NULL DEFAULT '',
    telephone       TEXT NOT NULL DEFAULT '',
    adresse         TEXT NOT NULL DEFAULT '',
    code_postal     TEXT NOT NULL DEFAULT '',
    ville           TEXT NOT NULL DEFAULT '',
    siret           TEXT NOT NULL DEFAULT '',
    external_source TEXT,
    external_id     TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE factures (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    numero            TEXT NOT NULL DEFAULT '',
    chantier_id       BIGINT NOT NULL REFERENCES chantiers(id) ON DELETE RESTRICT,
    client_id         BIGINT REFERENCES clients(id) ON DELETE RESTRICT,
    periode_debut     DATE,
    periode_fin       DATE,
    date_emission     DATE,
    libelle           TEXT NOT NULL DEFAULT '',
    montant_ht_cents  BIGINT NOT NULL,
    tva_cents         BIGINT NOT NULL,
    montant_ttc_cents BIGINT NOT NULL,
    statut            TEXT NOT NULL CHECK (statut IN ('brouillon','emise','payee','annulee')),
    external_source   TEXT,
    external_id       TEXT,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    version           BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE TABLE depenses (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    chantier_id     BIGINT REFERENCES chantiers(id) ON DELETE RESTRICT,
    date            DATE NOT NULL,
    libelle         TEXT NOT NULL,
    fournisseur     TEXT NOT NULL DEFAULT '',
    montant_cents   BIGINT NOT NULL,
    external_source TEXT,
    external_id     TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
--bun:split
-- A connector's mapping of vendor records to rows: (connector, resource,
-- vendor id) -> row. Syncs upsert through it in the transaction of their
-- checkpoint, so a record read again updates its row.
CREATE TABLE external_refs (
    connector_id BIGINT NOT NULL REFERENCES connectors(id) ON DELETE CASCADE,
    resource     TEXT   NOT NULL,
    external_id  TEXT   NOT NULL,
    resource_id  BIGINT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (connector_id, resource, external_id)
);
--bun:split
CREATE INDEX external_refs_resource ON external_refs (resource, resource_id);
--bun:split
CREATE INDEX clients_created_at_id ON clients (created_at, id);
--bun:split
CREATE INDEX clients_updated_at_id ON clients (updated_at, id);
--bun:split
CREATE INDEX clients_nom_id ON clients (nom, id);
--bun:split
CREATE INDEX factures_created_at_id ON factures (created_at, id);
--bun:split
CREATE INDEX factures_updated_at_id ON factures (updated_at, id);
--bun:split
CREATE INDEX factures_date_emission_id ON factures (date_emission, id);
--bun:split
CREATE INDEX depenses_created_at_id ON depenses (created_at, id);
--bun:split
CREATE INDEX depenses_updated_at_id ON depenses (updated_at, id);
--bun:split
CREATE INDEX depenses_date_id ON depenses (date, id);
--bun:split
CREATE INDEX factures_chantier_id ON factures (chantier_id);
--bun:split
CREATE INDEX factures_client_id ON factures (client_id);
--bun:split
CREATE INDEX depenses_chantier_id ON depenses (chantier_id);
--bun:split
CREATE INDEX clients_ville ON clients (ville);
--bun:split
CREATE INDEX clients_external ON clients (external_source, external_id);
--bun:split
CREATE INDEX factures_external ON factures (external_source, external_id);
--bun:split
CREATE INDEX depenses_external ON depenses (external_source, external_id);
--bun:split
-- Counters (see 20261202000001_counters): factures by statut, clients and
-- dépenses by nothing.;
--bun:split
CREATE TRIGGER clients_counters_insert AFTER INSERT ON clients BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'clients', '', '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER clients_counters_delete AFTER DELETE ON clients BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'clients', '', '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER factures_counters_insert AFTER INSERT ON factures BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'factures', NEW.statut, '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER factures_counters_update AFTER UPDATE OF statut ON factures WHEN OLD.statut IS NOT NEW.statut BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'factures', OLD.statut, '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
    INSERT INTO counters (name, k1, k2, n) SELECT 'factures', NEW.statut, '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER factures_counters_delete AFTER DELETE ON factures BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'factures', OLD.statut, '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER depenses_counters_insert AFTER INSERT ON depenses BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'depenses', '', '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER depenses_counters_delete AFTER DELETE ON depenses BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'depenses', '', '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
