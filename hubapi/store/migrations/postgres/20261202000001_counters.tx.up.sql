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
-- One trigger function per table, AFTER ... FOR EACH STATEMENT with
-- transition tables old_rows/new_rows: a statement appends its net delta per
-- key, none for keys whose delta is zero (an update that leaves the counted
-- columns alone appends nothing), whatever number of rows it wrote.
CREATE FUNCTION chantiers_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'chantiers', k1, k2, sum(d) FROM (SELECT statut AS k1, '' AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'chantiers', k1, k2, sum(d) FROM (SELECT statut AS k1, '' AS k2, -1 AS d FROM old_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSE
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'chantiers', k1, k2, sum(d) FROM (SELECT statut AS k1, '' AS k2, -1 AS d FROM old_rows UNION ALL SELECT statut AS k1, '' AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$;
--bun:split
CREATE FUNCTION pointages_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'pointages', k1, k2, sum(d) FROM (SELECT statut AS k1, '' AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'pointage_minutes', k1, k2, sum(d) FROM (SELECT to_char(date, 'YYYY-MM-DD') AS k1, '' AS k2, minutes AS d FROM new_rows WHERE statut <> 'rejete') x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'pointages', k1, k2, sum(d) FROM (SELECT statut AS k1, '' AS k2, -1 AS d FROM old_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'pointage_minutes', k1, k2, sum(d) FROM (SELECT to_char(date, 'YYYY-MM-DD') AS k1, '' AS k2, -minutes AS d FROM old_rows WHERE statut <> 'rejete') x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSE
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'pointages', k1, k2, sum(d) FROM (SELECT statut AS k1, '' AS k2, -1 AS d FROM old_rows UNION ALL SELECT statut AS k1, '' AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'pointage_minutes', k1, k2, sum(d) FROM (SELECT to_char(date, 'YYYY-MM-DD') AS k1, '' AS k2, -minutes AS d FROM old_rows WHERE statut <> 'rejete' UNION ALL SELECT to_char(date, 'YYYY-MM-DD') AS k1, '' AS k2, minutes AS d FROM new_rows WHERE statut <> 'rejete') x GROUP BY k1, k2 HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$;
--bun:split
CREATE FUNCTION documents_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'documents', k1, k2, sum(d) FROM (SELECT categorie AS k1, '' AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'documents', k1, k2, sum(d) FROM (SELECT categorie AS k1, '' AS k2, -1 AS d FROM old_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSE
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'documents', k1, k2, sum(d) FROM (SELECT categorie AS k1, '' AS k2, -1 AS d FROM old_rows UNION ALL SELECT categorie AS k1, '' AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$;
--bun:split
CREATE FUNCTION signalements_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'signalements', k1, k2, sum(d) FROM (SELECT statut AS k1, gravite AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'signalements', k1, k2, sum(d) FROM (SELECT statut AS k1, gravite AS k2, -1 AS d FROM old_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSE
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'signalements', k1, k2, sum(d) FROM (SELECT statut AS k1, gravite AS k2, -1 AS d FROM old_rows UNION ALL SELECT statut AS k1, gravite AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$;
--bun:split
CREATE FUNCTION affectations_counters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- no counted column: only inserts and deletes have a trigger
    IF TG_OP = 'INSERT' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'affectations', k1, k2, sum(d) FROM (SELECT '' AS k1, '' AS k2, 1 AS d FROM new_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO counter_deltas (name, k1, k2, n)
            SELECT 'affectations', k1, k2, sum(d) FROM (SELECT '' AS k1, '' AS k2, -1 AS d FROM old_rows) x GROUP BY k1, k2 HAVING sum(d) <> 0;
    END IF;
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
    FOR EACH STATEMENT EXECUTE FUNCTION chantiers_counters();
--bun:split
CREATE TRIGGER chantiers_counters_update AFTER UPDATE ON chantiers REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chantiers_counters();
--bun:split
CREATE TRIGGER chantiers_counters_delete AFTER DELETE ON chantiers REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chantiers_counters();
--bun:split
CREATE TRIGGER chantiers_counters_truncate AFTER TRUNCATE ON chantiers
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('chantiers');
--bun:split
CREATE TRIGGER pointages_counters_insert AFTER INSERT ON pointages REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pointages_counters();
--bun:split
CREATE TRIGGER pointages_counters_update AFTER UPDATE ON pointages REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pointages_counters();
--bun:split
CREATE TRIGGER pointages_counters_delete AFTER DELETE ON pointages REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION pointages_counters();
--bun:split
CREATE TRIGGER pointages_counters_truncate AFTER TRUNCATE ON pointages
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('pointages', 'pointage_minutes');
--bun:split
CREATE TRIGGER documents_counters_insert AFTER INSERT ON documents REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_counters();
--bun:split
CREATE TRIGGER documents_counters_update AFTER UPDATE ON documents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_counters();
--bun:split
CREATE TRIGGER documents_counters_delete AFTER DELETE ON documents REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION documents_counters();
--bun:split
CREATE TRIGGER documents_counters_truncate AFTER TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('documents');
--bun:split
CREATE TRIGGER signalements_counters_insert AFTER INSERT ON signalements REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signalements_counters();
--bun:split
CREATE TRIGGER signalements_counters_update AFTER UPDATE ON signalements REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signalements_counters();
--bun:split
CREATE TRIGGER signalements_counters_delete AFTER DELETE ON signalements REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION signalements_counters();
--bun:split
CREATE TRIGGER signalements_counters_truncate AFTER TRUNCATE ON signalements
    FOR EACH STATEMENT EXECUTE FUNCTION counters_reset('signalements');
--bun:split
CREATE TRIGGER affectations_counters_insert AFTER INSERT ON affectations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION affectations_counters();
--bun:split
CREATE TRIGGER affectations_counters_delete AFTER DELETE ON affectations REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION affectations_counters();
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
