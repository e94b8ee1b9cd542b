package seed

import (
	"fmt"

	"github.com/hubchantier/hubchantier/hubapi"
)

// Column kinds, with the PostgreSQL type each is written as (binary COPY
// needs the exact type; the loader checks the schema before writing).
type colKind uint8

const (
	kInt8 colKind = iota
	kInt4
	kFloat8
	kText
	kDate
	kTimestamptz
)

var pgTypeNames = [...]string{
	kInt8:        "bigint",
	kInt4:        "integer",
	kFloat8:      "double precision",
	kText:        "text",
	kDate:        "date",
	kTimestamptz: "timestamp with time zone",
}

type column struct {
	name string
	kind colKind
}

// tableSpec is a table the seed writes, with the columns in writing order.
type tableSpec struct {
	name string
	cols []column
}

func (t *tableSpec) columnList() string {
	s := ""
	for i, c := range t.cols {
		if i > 0 {
			s += ", "
		}
		s += c.name
	}
	return s
}

var (
	usersTable = &tableSpec{"users", []column{{"id", kInt8}, {"email", kText}, {"nom", kText}, {"prenom", kText},
		{"role", kText}, {"password_hash", kText}, {"created_at", kTimestamptz}, {"updated_at", kTimestamptz}, {"version", kInt8}}}
	chantiersTable = &tableSpec{"chantiers", []column{{"id", kInt8}, {"code", kText}, {"nom", kText}, {"adresse", kText},
		{"ville", kText}, {"code_postal", kText}, {"statut", kText}, {"client_nom", kText}, {"responsable_id", kInt8},
		{"budget_cents", kInt8}, {"date_debut", kDate}, {"date_fin", kDate}, {"latitude", kFloat8}, {"longitude", kFloat8},
		{"description", kText}, {"created_at", kTimestamptz}, {"updated_at", kTimestamptz}, {"version", kInt8}}}
	pointagesTable = &tableSpec{"pointages", []column{{"id", kInt8}, {"user_id", kInt8}, {"chantier_id", kInt8}, {"date", kDate},
		{"minutes", kInt4}, {"type", kText}, {"statut", kText}, {"commentaire", kText},
		{"created_at", kTimestamptz}, {"updated_at", kTimestamptz}, {"version", kInt8}}}
	signalementsTable = &tableSpec{"signalements", []column{{"id", kInt8}, {"chantier_id", kInt8}, {"titre", kText},
		{"description", kText}, {"gravite", kText}, {"statut", kText}, {"created_by", kInt8}, {"assigned_to", kInt8},
		{"resolved_at", kTimestamptz}, {"created_at", kTimestamptz}, {"updated_at", kTimestamptz}, {"version", kInt8}}}
	affectationsTable = &tableSpec{"affectations", []column{{"id", kInt8}, {"user_id", kInt8}, {"chantier_id", kInt8},
		{"date", kDate}, {"heure_debut", kText}, {"heure_fin", kText}, {"note", kText},
		{"created_at", kTimestamptz}, {"updated_at", kTimestamptz}, {"version", kInt8}}}
	documentsTable = &tableSpec{"documents", []column{{"id", kInt8}, {"chantier_id", kInt8}, {"nom", kText},
		{"categorie", kText}, {"mime_type", kText}, {"size", kInt8}, {"sha256", kText}, {"uploaded_by", kInt8},
		{"storage_key", kText}, {"created_at", kTimestamptz}, {"updated_at", kTimestamptz}, {"version", kInt8}}}

	// bulkTables are the tables a fresh load fills (and may rebuild the
	// secondary indexes of).
	bulkTables = []*tableSpec{chantiersTable, pointagesTable, signalementsTable, affectationsTable, documentsTable}
	allTables  = []*tableSpec{usersTable, chantiersTable, pointagesTable, signalementsTable, affectationsTable, documentsTable}
)

// rowSink receives rows of one table, field by field in the spec's column
// order. Field methods record the first error; beginRow and close return it.
type rowSink interface {
	// beginRow starts a row (and may flush the previous ones).
	beginRow() error
	int8(v int64)
	int4(v int32)
	float8(v float64)
	text(s string)
	date(day int32)
	timestamptz(us int64) // microseconds since the Unix epoch, UTC
	null()
	// close flushes the rows and reports how many were written.
	close() (int64, error)
	// abort gives up the table after an error elsewhere.
	abort(err error)
}

func optInt8(w rowSink, v int64) {
	if v == 0 {
		w.null()
		return
	}
	w.int8(v)
}

func optDate(w rowSink, d hubapi.Date) {
	if d.IsZero() {
		w.null()
		return
	}
	w.date(dayOf(d.Time().UnixMicro()))
}

func optFloat8(w rowSink, v *float64) {
	if v == nil {
		w.null()
		return
	}
	w.float8(*v)
}

func writeUser(w rowSink, u *hubapi.User) error {
	if err := w.beginRow(); err != nil {
		return err
	}
	w.int8(u.ID)
	w.text(u.Email)
	w.text(u.Nom)
	w.text(u.Prenom)
	w.text(string(u.Role))
	w.text(u.PasswordHash)
	w.timestamptz(u.CreatedAt.UnixMicro())
	w.timestamptz(u.UpdatedAt.UnixMicro())
	w.int8(u.Version)
	return nil
}

func writeChantier(w rowSink, c *hubapi.Chantier) error {
	if err := w.beginRow(); err != nil {
		return err
	}
	w.int8(c.ID)
	w.text(c.Code)
	w.text(c.Nom)
	w.text(c.Adresse)
	w.text(c.Ville)
	w.text(c.CodePostal)
	w.text(string(c.Statut))
	w.text(c.ClientNom)
	if c.ResponsableID != nil {
		w.int8(*c.ResponsableID)
	} else {
		w.null()
	}
	w.int8(c.BudgetCents)
	optDate(w, c.DateDebut)
	optDate(w, c.DateFin)
	optFloat8(w, c.Latitude)
	optFloat8(w, c.Longitude)
	w.text(c.Description)
	w.timestamptz(c.CreatedAt.UnixMicro())
	w.timestamptz(c.UpdatedAt.UnixMicro())
	w.int8(c.Version)
	return nil
}

func writePointage(w rowSink, id int64, p *pointageRow) error {
	if err := w.beginRow(); err != nil {
		return err
	}
	w.int8(id)
	w.int8(p.userID)
	w.int8(p.chantierID)
	w.date(p.date)
	w.int4(p.minutes)
	w.text(string(pointageTypes[p.typ]))
	w.text(string(pointageStatuts[p.statut]))
	w.text(pointageComments[p.comment])
	w.timestamptz(p.createdUS)
	w.timestamptz(p.updatedUS)
	w.int8(int64(p.version))
	return nil
}

func writeSignalement(w rowSink, id int64, s *signalementRow) error {
	if err := w.beginRow(); err != nil {
		return err
	}
	topic := &signalementTopics[s.topic]
	w.int8(id)
	w.int8(s.chantierID)
	w.text(topic.titre)
	w.text(signalementDescription(s))
	w.text(string(hubapi.Gravites[s.gravite]))
	w.text(string(signalementStatuts[s.statut]))
	w.int8(s.createdBy)
	optInt8(w, s.assignedTo)
	if s.resolvedUS != 0 {
		w.timestamptz(s.resolvedUS)
	} else {
		w.null()
	}
	w.timestamptz(s.createdUS)
	w.timestamptz(s.updatedUS)
	w.int8(int64(s.version))
	return nil
}

func writeAffectation(w rowSink, id int64, a *affectationRow) error {
	if err := w.beginRow(); err != nil {
		return err
	}
	slot := affectationSlots[a.slot]
	w.int8(id)
	w.int8(a.userID)
	w.int8(a.chantierID)
	w.date(a.date)
	w.text(slot[0])
	w.text(slot[1])
	w.text(affectationNotes[a.note])
	w.timestamptz(a.createdUS)
	w.timestamptz(a.updatedUS)
	w.int8(int64(a.version))
	return nil
}

// seededKeyPrefix starts the storage keys of seeded documents; their
// content is the placeholder of their format (see storeContents).
const seededKeyPrefix = "5eed"

// documentKey is the storage key of a seeded document: 32 hex digits, the
// form the blob store accepts, unique per document id.
func documentKey(id int64) string {
	return fmt.Sprintf("%s%028x", seededKeyPrefix, uint64(id)) // #nosec G115 -- ids are positive
}

func writeDocument(w rowSink, id int64, d *documentRow) error {
	if err := w.beginRow(); err != nil {
		return err
	}
	t := &documentTemplates[d.tpl]
	w.int8(id)
	w.int8(d.chantierID)
	w.text(documentName(d))
	w.text(t.categorie)
	w.text(documentFormats[t.ext].mime)
	ph := placeholderFor(d)
	w.int8(int64(len(ph.content)))
	w.text(ph.sha256)
	w.int8(d.uploader)
	w.text(documentKey(id))
	w.timestamptz(d.createdUS)
	w.timestamptz(d.updatedUS)
	w.int8(int64(d.version))
	return nil
}
