package hubapi

import (
	"time"
	"unicode/utf8"
)

// Text rules shared by every string a client writes, whatever the adapter
// (REST, GraphQL, batch, CLI):
//
//   - every string is valid UTF-8 and holds no NUL (U+0000): PostgreSQL
//     refuses NUL in text, and a NUL or an invalid byte is never data;
//   - single-line text (names, titles, addresses, file names, API key
//     names) holds no control character (C0 U+0000–U+001F, DEL U+007F,
//     C1 U+0080–U+009F) and no bidirectional override or isolate
//     (U+202A–U+202E, U+2066–U+2069), which can disguise what a name shows
//     (a file name "invoice\u202Efdp.exe" displays as "invoiceexe.pdf");
//   - multi-line text (chantier and signalement descriptions, pointage
//     commentaires, affectation notes) may also hold tab, line feed and
//     carriage return, and bidirectional controls (free text in
//     right-to-left scripts needs them); other control characters are
//     refused.

// TextProblem returns why s cannot be stored as single-line text ("" when
// it can): the same rule every Validate method applies.
func TextProblem(s string) string { return textProblem(s, false) }

// MultilineTextProblem is TextProblem for multi-line text.
func MultilineTextProblem(s string) string { return textProblem(s, true) }

func textProblem(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == 0:
			return "must not contain NUL (U+0000)"
		case multiline && (r == '\t' || r == '\n' || r == '\r'):
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			if multiline {
				return "must not contain control characters other than tab and line breaks"
			}
			return "must not contain control characters or line breaks"
		case !multiline && isBidiControl(r):
			return "must not contain bidirectional override or isolate characters (U+202A–U+202E, U+2066–U+2069)"
		}
	}
	return ""
}

func isBidiControl(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// checkText checks single-line text: the text rules and a length in
// characters (minLen 0: optional).
func checkText(v *validator, field, s string, minLen, maxLen int) {
	checkLength(v, field, s, textProblem(s, false), minLen, maxLen)
}

// checkLines checks multi-line text.
func checkLines(v *validator, field, s string, minLen, maxLen int) {
	checkLength(v, field, s, textProblem(s, true), minLen, maxLen)
}

func checkLength(v *validator, field, s, problem string, minLen, maxLen int) {
	n := utf8.RuneCountInString(s)
	switch {
	case problem != "":
		v.add(field, "%s", problem)
	case minLen > 0 && n < minLen:
		v.add(field, "required")
	case n > maxLen:
		v.add(field, "at most %d characters", maxLen)
	}
}

// The dates and times the domain accepts: from 1900-01-01 to 2200-12-31
// (UTC). Wider values are typing errors, and some cannot be stored or
// written back at all (PostgreSQL has no year 0; JSON times stop at 9999).
var (
	MinDate = NewDate(1900, time.January, 1)
	MaxDate = NewDate(2200, time.December, 31)
)

// InRange reports whether d is between MinDate and MaxDate (inclusive).
func (d Date) InRange() bool { return !d.Before(MinDate) && !MaxDate.Before(d) }

// TimeInRange reports whether t falls on a date between MinDate and
// MaxDate (inclusive).
func TimeInRange(t time.Time) bool {
	return !t.Before(MinDate.Time()) && t.Before(MaxDate.AddDays(1).Time())
}

// dateRangeMessage is the message of a date or time outside the range.
const dateRangeMessage = "must be between 1900-01-01 and 2200-12-31"

// checkDate checks a date that may be unset.
func checkDate(v *validator, field string, d Date) {
	v.check(d.IsZero() || d.InRange(), field, dateRangeMessage)
}

// checkTime checks a time that may be unset.
func checkTime(v *validator, field string, t *time.Time) {
	v.check(t == nil || TimeInRange(*t), field, dateRangeMessage)
}

// checkEnum checks an optional enumerated filter value.
func checkEnum[T ~string](v *validator, field string, s T, values []T) {
	if s == "" {
		return
	}
	for _, x := range values {
		if x == s {
			return
		}
	}
	v.add(field, "unknown value")
}
