-- Counters maintained by triggers in the transaction of every write, so that
-- list totals and /stats read a handful of rows instead of aggregating whole
-- tables. Whoever writes (the service, the bulk seed's COPY, SQL by hand),
-- the counters stay exact.
--
--   name              k1          k2       n
--   chantiers         statut      ''       rows
--   pointages         statut      ''       rows
--   documents         categorie   ''       rows
--   signalements      statut      gravite  rows
--   affectations      ''          ''       rows
--   pointage_minutes  date        ''       SUM(minutes) of pointages not rejected
--
-- A count is the sum of its row in counters and of its rows in
-- counter_deltas. Writers only append deltas: updating a shared counter row
-- in place would lock it until commit, serializing every writer of the same
-- key and deadlocking transactions that change several keys in different
-- orders. store.CompactCounters folds the deltas into counters (one
-- statement; concurrent compactions are safe), the server every second.
CREATE TABLE counters (
    name TEXT   NOT NULL,
    k1   TEXT   NOT NULL DEFAULT '',
    k2   TEXT   NOT NULL DEFAULT '',
    n    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (name, k1, k2)
);
--bun:split
CREATE TABLE counter_deltas (
    name TEXT   NOT NULL,
    k1   TEXT   NOT NULL,
    k2   TEXT   NOT NULL,
    n    BIGINT NOT NULL
);
--bun:split
-- counters_track(name, k1 expr, k2 expr, value expr, condition) is an AFTER
-- ... FOR EACH STATEMENT trigger with transition tables old_rows/new_rows:
-- one statement appends its net delta per key, none for keys whose delta is
-- zero (an update that leaves the counted columns alone appends nothing).
-- The arguments are SQL fragments of this migration.
CREATE FUNCTION counters_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sel text := format('SELECT %s AS k1, %s AS k2, %s AS d FROM %%s WHERE %s', TG_ARGV[1], TG_ARGV[2], TG_ARGV[3], TG_ARGV[4]);
    src text;
BEGIN
    src := CASE TG_OP
        WHEN 'INSERT' THEN format(sel, 'new_rows')
        WHEN 'DELETE' THEN format('SELECT k1, k2, -d AS d FROM (' || sel || ') o', 'old_rows')
        ELSE format('SELECT k1, k2, -d AS d FROM (' || sel || ') o UNION ALL ' || sel, 'old_rows', 'new_rows')
    END;
    EXECUTE format('INSERT INTO counter_deltas (name, k1, k2, n)
        SELECT %L, k1, k2, sum(d) FROM (%s) x GROUP BY k1, k2 HAVING sum(d) <> 0', TG_ARGV[0], src);
    RETURN NULL;
END
$$;
--bun:split
-- TRUNCATE empties a table without row events: its counters go with it.
CREATE FUNCTION counters_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM counters WHERE name = ANY (TG_ARGV);
    DELETE FROM counter_deltas WHERE name = ANY (TG_ARGV);
    RETURN NULL;
END
$$;
--bun:split
CREATE TRIGGER chantiers_counters_insert AFTER INSERT ON chantiers REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('chantiers', 'statut', '''''', '1', 'true');
--bun:split
CREATE TRIGGER chantiers_counters_update AFTER UPDATE ON chantiers REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('chantiers', 'statut', '''''', '1', 'true');
--bun:split
CREATE TRIGGER chantiers_counters_delete AFTER DELETE ON chantiers REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('chantiers', 'statut', '''''', '1', 'true');
--bun:split
CREATE TRIGGER chantiers_counters_truncate AFTER TRUNCATE ON chantiers
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('chantiers');
--bun:split
CREATE TRIGGER pointages_counters_insert AFTER INSERT ON pointages REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('pointages', 'statut', '''''', '1', 'true');
--bun:split
CREATE TRIGGER pointages_counters_update AFTER UPDATE ON pointages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('pointages', 'statut', '''''', '1', 'true');
--bun:split
CREATE TRIGGER pointages_counters_delete AFTER DELETE ON pointages REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('pointages', 'statut', '''''', '1', 'true');
--bun:split
CREATE TRIGGER pointages_minutes_insert AFTER INSERT ON pointages REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('pointage_minutes', 'to_char(date, ''YYYY-MM-DD'')', '''''', 'minutes', 'statut <> ''rejete''');
--bun:split
CREATE TRIGGER pointages_minutes_update AFTER UPDATE ON pointages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('pointage_minutes', 'to_char(date, ''YYYY-MM-DD'')', '''''', 'minutes', 'statut <> ''rejete''');
--bun:split
CREATE TRIGGER pointages_minutes_delete AFTER DELETE ON pointages REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('pointage_minutes', 'to_char(date, ''YYYY-MM-DD'')', '''''', 'minutes', 'statut <> ''rejete''');
--bun:split
CREATE TRIGGER pointages_counters_truncate AFTER TRUNCATE ON pointages
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('pointages', 'pointage_minutes');
--bun:split
CREATE TRIGGER documents_counters_insert AFTER INSERT ON documents REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('documents', 'categorie', '''''', '1', 'true');
--bun:split
CREATE TRIGGER documents_counters_update AFTER UPDATE ON documents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('documents', 'categorie', '''''', '1', 'true');
--bun:split
CREATE TRIGGER documents_counters_delete AFTER DELETE ON documents REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('documents', 'categorie', '''''', '1', 'true');
--bun:split
CREATE TRIGGER documents_counters_truncate AFTER TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('documents');
--bun:split
CREATE TRIGGER signalements_counters_insert AFTER INSERT ON signalements REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('signalements', 'statut', 'gravite', '1', 'true');
--bun:split
CREATE TRIGGER signalements_counters_update AFTER UPDATE ON signalements REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('signalements', 'statut', 'gravite', '1', 'true');
--bun:split
CREATE TRIGGER signalements_counters_delete AFTER DELETE ON signalements REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('signalements', 'statut', 'gravite', '1', 'true');
--bun:split
CREATE TRIGGER signalements_counters_truncate AFTER TRUNCATE ON signalements
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('signalements');
--bun:split
CREATE TRIGGER affectations_counters_insert AFTER INSERT ON affectations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('affectations', '''''', '''''', '1', 'true');
--bun:split
CREATE TRIGGER affectations_counters_delete AFTER DELETE ON affectations REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION counters_track('affectations', '''''', '''''', '1', 'true');
--bun:split
CREATE TRIGGER affectations_counters_truncate AFTER TRUNCATE ON affectations
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('affectations');
--bun:split
-- Existing rows (the triggers above already hold the tables' write locks, so
-- nothing commits between these counts and the triggers taking over).
INSERT INTO counters (name, k1, k2, n) SELECT 'chantiers', statut, '', count(*) FROM chantiers GROUP BY statut;
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'pointages', statut, '', count(*) FROM pointages GROUP BY statut;
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'documents', categorie, '', count(*) FROM documents GROUP BY categorie;
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'signalements', statut, gravite, count(*) FROM signalements GROUP BY statut, gravite;
--bun:split
INSERT INTO counters (name, k1, k2, n) SELECT 'affectations', '', '', count(*) FROM affectations HAVING count(*) > 0;
--bun:split
INSERT INTO counters (name, k1, k2, n)
    SELECT 'pointage_minutes', to_char(date, 'YYYY-MM-DD'), '', sum(minutes) FROM pointages WHERE statut <> 'rejete' GROUP BY date;
