package generator

import (
	"unicode/utf8"
)

// appendScalar appends s as a YAML string scalar. It is written plain only
// when it is trivially a string to every YAML 1.1 and 1.2 parser (letters,
// digits and -._/@, starting with a letter and not a boolean or null word,
// or a dotted quad); anything else is double-quoted with JSON-style escapes,
// which are valid YAML. So label and annotation values holding quotes, line
// breaks, "---", ": ", "#", leading spaces, "true", "null" or numbers can
// never change the structure of a file or the type of a value.
func appendScalar(b []byte, s string) []byte {
	if isPlain(s) {
		return append(b, s...)
	}
	return appendQuoted(b, s)
}

func isPlain(s string) bool {
	if s == "" {
		return false
	}
	if !isLetter(s[0]) {
		return isDottedQuad(s)
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		// '@' and ',' are indicators only first or in flow collections,
		// which fedgen never writes: "bb@east,bb@north" stays readable.
		if !isLetter(c) && !isDigit(c) && c != '-' && c != '.' && c != '_' && c != '/' && c != '@' && c != ',' {
			return false
		}
	}
	return !isReservedWord(s)
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

// isReservedWord reports YAML 1.1's booleans (y, yes, on, true, ...) and
// null, in any case: the only plain letter-first words that are not strings.
func isReservedWord(s string) bool {
	if len(s) > 5 {
		return false
	}
	var lower [5]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(s)]) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return true
	}
	return false
}

// isDottedQuad reports an IPv4 address shape (four groups of 1-3 digits).
// It has more than one dot, so neither YAML 1.2 nor Go's YAML parsers read
// it as a number, and it keeps endpoint addresses readable.
func isDottedQuad(s string) bool {
	groups, digits := 1, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			digits++
			if digits > 3 {
				return false
			}
		case c == '.':
			if digits == 0 {
				return false
			}
			groups++
			digits = 0
		default:
			return false
		}
	}
	return groups == 4 && digits > 0
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s double-quoted. Escaped: '"', '\', C0 and C1
// controls, DEL, and the characters YAML treats as line breaks or that it
// does not allow raw (U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF). Invalid UTF-8
// becomes U+FFFD, as encoding/json does: Kubernetes strings are UTF-8.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b = append(b, '\\', '"')
			case c == '\\':
				b = append(b, '\\', '\\')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				b = appendEscapedRune(b, rune(c))
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = appendEscapedRune(b, utf8.RuneError)
		case r <= 0x9f, r == 0x2028, r == 0x2029, r == 0xfeff, r == 0xfffe, r == 0xffff:
			b = appendEscapedRune(b, r)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendEscapedRune appends \uXXXX; only runes of the Basic Multilingual
// Plane are ever escaped, so no surrogate pairs are needed.
func appendEscapedRune(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
