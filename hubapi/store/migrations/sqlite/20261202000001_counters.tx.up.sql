-- Counters maintained by triggers in the transaction of every write, so that
-- list totals and /stats read a handful of rows instead of aggregating whole
-- tables (the PostgreSQL migration of the same name gives the layout). An
-- update fires only when a counted column changes. "WHERE true": SQLite's
-- rule for INSERT ... SELECT with an upsert clause. Days are keyed
-- YYYY-MM-DD (date() also normalizes a value written with a time).
CREATE TABLE counters (
    name TEXT    NOT NULL,
    k1   TEXT    NOT NULL DEFAULT '',
    k2   TEXT    NOT NULL DEFAULT '',
    n    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, k1, k2)
) WITHOUT ROWID;
--bun:split
-- Always empty here: SQLite runs one writer at a time, so the triggers
-- update counters in place (PostgreSQL appends deltas; reads sum both).
CREATE TABLE counter_deltas (
    name TEXT    NOT NULL,
    k1   TEXT    NOT NULL,
    k2   TEXT    NOT NULL,
    n    INTEGER NOT NULL
);
--bun:split
CREATE TRIGGER chantiers_counters_insert AFTER INSERT ON chantiers BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'chantiers', NEW.statut, '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER chantiers_counters_update AFTER UPDATE OF statut ON chantiers WHEN OLD.statut IS NOT NEW.statut BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'chantiers', OLD.statut, '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
    INSERT INTO counters (name, k1, k2, n) SELECT 'chantiers', NEW.statut, '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER chantiers_counters_delete AFTER DELETE ON chantiers BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'chantiers', OLD.statut, '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER pointages_counters_insert AFTER INSERT ON pointages BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'pointages', NEW.statut, '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER pointages_counters_update AFTER UPDATE OF statut ON pointages WHEN OLD.statut IS NOT NEW.statut BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'pointages', OLD.statut, '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
    INSERT INTO counters (name, k1, k2, n) SELECT 'pointages', NEW.statut, '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER pointages_counters_delete AFTER DELETE ON pointages BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'pointages', OLD.statut, '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER pointage_minutes_insert AFTER INSERT ON pointages BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'pointage_minutes', date(NEW.date), '', NEW.minutes WHERE NEW.statut <> 'rejete'
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER pointage_minutes_update AFTER UPDATE OF date, minutes, statut ON pointages WHEN OLD.date IS NOT NEW.date OR OLD.minutes IS NOT NEW.minutes OR OLD.statut IS NOT NEW.statut BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'pointage_minutes', date(OLD.date), '', -OLD.minutes WHERE OLD.statut <> 'rejete'
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
    INSERT INTO counters (name, k1, k2, n) SELECT 'pointage_minutes', date(NEW.date), '', NEW.minutes WHERE NEW.statut <> 'rejete'
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER pointage_minutes_delete AFTER DELETE ON pointages BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'pointage_minutes', date(OLD.date), '', -OLD.minutes WHERE OLD.statut <> 'rejete'
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER documents_counters_insert AFTER INSERT ON documents BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'documents', NEW.categorie, '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER documents_counters_update AFTER UPDATE OF categorie ON documents WHEN OLD.categorie IS NOT NEW.categorie BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'documents', OLD.categorie, '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
    INSERT INTO counters (name, k1, k2, n) SELECT 'documents', NEW.categorie, '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER documents_counters_delete AFTER DELETE ON documents BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'documents', OLD.categorie, '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER signalements_counters_insert AFTER INSERT ON signalements BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'signalements', NEW.statut, NEW.gravite, 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER signalements_counters_update AFTER UPDATE OF statut, gravite ON signalements WHEN OLD.statut IS NOT NEW.statut OR OLD.gravite IS NOT NEW.gravite BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'signalements', OLD.statut, OLD.gravite, -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
    INSERT INTO counters (name, k1, k2, n) SELECT 'signalements', NEW.statut, NEW.gravite, 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER signalements_counters_delete AFTER DELETE ON signalements BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'signalements', OLD.statut, OLD.gravite, -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER affectations_counters_insert AFTER INSERT ON affectations BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'affectations', '', '', 1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
CREATE TRIGGER affectations_counters_delete AFTER DELETE ON affectations BEGIN
    INSERT INTO counters (name, k1, k2, n) SELECT 'affectations', '', '', -1 WHERE true
        ON CONFLICT (name, k1, k2) DO UPDATE SET n = n + excluded.n;
END;
--bun:split
-- Existing rows (the migration is one write transaction).
INSERT INTO counters (name, k1, k2, n) SELECT 'chantiers', statut, '', count(*) FROM chantiers GROUP BY statut;
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'pointages', statut, '', count(*) FROM pointages GROUP BY statut;
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'pointage_minutes', date(date), '', sum(minutes) FROM pointages WHERE statut <> 'rejete' GROUP BY date(date);
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'documents', categorie, '', count(*) FROM documents GROUP BY categorie;
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'signalements', statut, gravite, count(*) FROM signalements GROUP BY statut, gravite;
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'affectations', '', '', count(*) FROM affectations HAVING count(*) > 0;
