package calendar

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// icsWriter writes iCalendar content lines as RFC 5545 wants them: CRLF line
// ends, lines folded at 75 octets without splitting a UTF-8 character.
type icsWriter struct {
	b bytes.Buffer
}

// maxLineOctets is the longest a content line may be, CRLF excluded; a folded
// continuation line's leading space counts towards it.
const maxLineOctets = 75

// line writes name:value (value already escaped as its type needs).
func (w *icsWriter) line(name, value string) {
	w.b.WriteString(fold(name + ":" + value))
	w.b.WriteString("\r\n")
}

// text writes a TEXT property, escaped.
func (w *icsWriter) text(name, value string) { w.line(name, escapeText(value)) }

// fold breaks s into lines of at most 75 octets, each continuation starting with
// one space, never inside a UTF-8 character.
func fold(s string) string {
	if len(s) <= maxLineOctets {
		return s
	}
	var b strings.Builder
	limit := maxLineOctets
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLineOctets - 1 // the leading space takes one octet
	}
	b.WriteString(s)
	return b.String()
}

// escapeText escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon,
// comma and newlines; other control characters are dropped, since a content
// line may not carry them.
func escapeText(s string) string {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(s, "\r\n", "\n") {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == ';':
			b.WriteString(`\;`)
		case r == ',':
			b.WriteString(`\,`)
		case r == '\n' || r == '\r':
			b.WriteString(`\n`)
		case r < 0x20 && r != '\t', r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
