package domain

import "strings"

// CheckText validates a free-text field's length in characters. Text may hold
// anything but NUL, which PostgreSQL cannot store in text.
func CheckText(p *Problems, field, v string, minLen, maxLen int) {
	if strings.ContainsRune(v, 0) {
		p.Add(field, "invalid", "%s must not contain NUL characters", field)
		return
	}
	n := len([]rune(v))
	switch {
	case n < minLen && minLen == 1:
		p.Add(field, "required", "%s is required", field)
	case n < minLen || n > maxLen:
		p.Add(field, "length", "%s must be %d to %d characters", field, minLen, maxLen)
	}
}
