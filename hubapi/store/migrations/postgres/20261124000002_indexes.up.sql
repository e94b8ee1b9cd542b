CREATE INDEX chantiers_created_at_id ON chantiers (created_at, id);
--bun:split
CREATE INDEX chantiers_updated_at_id ON chantiers (updated_at, id);
--bun:split
CREATE INDEX chantiers_nom_id ON chantiers (nom, id);
--bun:split
CREATE INDEX chantiers_statut_created_at_id ON chantiers (statut, created_at, id);
--bun:split
CREATE INDEX chantiers_responsable_id ON chantiers (responsable_id);
--bun:split
CREATE INDEX pointages_created_at_id ON pointages (created_at, id);
--bun:split
CREATE INDEX pointages_updated_at_id ON pointages (updated_at, id);
--bun:split
CREATE INDEX pointages_date_id ON pointages (date, id);
--bun:split
CREATE INDEX pointages_chantier_id ON pointages (chantier_id, date);
--bun:split
CREATE INDEX pointages_user_id ON pointages (user_id, date);
--bun:split
CREATE INDEX documents_created_at_id ON documents (created_at, id);
--bun:split
CREATE INDEX documents_updated_at_id ON documents (updated_at, id);
--bun:split
CREATE INDEX documents_chantier_id ON documents (chantier_id);
--bun:split
CREATE INDEX documents_uploaded_by ON documents (uploaded_by);
--bun:split
CREATE INDEX signalements_created_at_id ON signalements (created_at, id);
--bun:split
CREATE INDEX signalements_updated_at_id ON signalements (updated_at, id);
--bun:split
CREATE INDEX signalements_chantier_id ON signalements (chantier_id);
--bun:split
CREATE INDEX signalements_statut_gravite ON signalements (statut, gravite);
--bun:split
CREATE INDEX signalements_created_by ON signalements (created_by);
--bun:split
CREATE INDEX signalements_assigned_to ON signalements (assigned_to);
--bun:split
CREATE INDEX affectations_created_at_id ON affectations (created_at, id);
--bun:split
CREATE INDEX affectations_updated_at_id ON affectations (updated_at, id);
--bun:split
CREATE INDEX affectations_date ON affectations (date, heure_debut, id);
--bun:split
CREATE INDEX affectations_chantier_id ON affectations (chantier_id);
--bun:split
CREATE INDEX affectations_user_id ON affectations (user_id, date);
--bun:split
CREATE INDEX api_keys_user_id ON api_keys (user_id);
