package tfvars

import (
	"bytes"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// This file holds the fast paths for the common variable-definitions file:
// one attribute per line, each value a string, number, bool or null.
// Rendering and parsing back such a file through hclwrite and hclsyntax
// costs hundreds of allocations and about a hundred microseconds (the
// lexer alone takes about 70); a launch renders and verifies one on every
// request. The fast paths write and read exactly what the general
// paths do. FuzzRenderParse holds appendFlat to hclwrite's bytes, and
// FuzzParse holds parseFlat to hclsyntax's values on arbitrary input.

// appendQuoted writes s as hclwrite writes a string literal: quoted, with
// newline, carriage return, tab, quote and backslash escaped, "${" and "%{"
// escaped by doubling the introducer, and every other non-printable rune
// as a \u or \U escape.
func appendQuoted(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for i, r := range s {
		switch r {
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		case '"':
			buf.WriteString(`\"`)
		case '\\':
			buf.WriteString(`\\`)
		case '$', '%':
			buf.WriteRune(r)
			if i+1 < len(s) && s[i+1] == '{' {
				buf.WriteRune(r)
			}
		default:
			switch {
			case r < utf8.RuneSelf && r >= 0x20 && r != 0x7f:
				buf.WriteByte(byte(r))
			case unicode.IsPrint(r):
				buf.WriteRune(r)
			case r < 0x10000:
				buf.WriteString(`\u`)
				appendHex(buf, uint32(r), 4)
			default:
				buf.WriteString(`\U`)
				appendHex(buf, uint32(r), 8)
			}
		}
	}
	buf.WriteByte('"')
}

func appendHex(buf *bytes.Buffer, v uint32, digits int) {
	const hex = "0123456789abcdef"
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		buf.WriteByte(hex[v>>shift&0xf])
	}
}

// parseFlat reads src when it is a flat file: lines that are blank, "#"
// comments, or `name = value` with value a quoted string without template
// sequences, a non-negative number literal, true, false or null; names
// ASCII identifiers, each once. It reports false for anything else, and the
// caller parses with hclsyntax, which then gives the values or the errors.
// For the files it accepts it gives the values hclsyntax gives.
func parseFlat(src []byte) (map[string]cty.Value, bool) {
	out := make(map[string]cty.Value, bytes.Count(src, []byte{'\n'})+1)
	var p flatParser
	p.src = src
	for p.i < len(src) {
		p.spaces()
		switch c := p.peek(); {
		case c == '\n':
			p.i++
			continue
		case c == '#':
			if !p.comment() {
				return nil, false
			}
			continue
		case p.i == len(src):
			return out, true
		}
		name, ok := p.ident()
		if !ok {
			return nil, false
		}
		if _, dup := out[name]; dup {
			return nil, false
		}
		p.spaces()
		if p.peek() != '=' {
			return nil, false
		}
		p.i++
		p.spaces()
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		p.spaces()
		if p.i < len(src) {
			if src[p.i] != '\n' {
				return nil, false
			}
			p.i++
		}
		out[name] = v
	}
	return out, true
}

type flatParser struct {
	src []byte
	i   int
	buf []byte // scratch for decoding strings
}

// peek returns the next byte, 0 at the end.
func (p *flatParser) peek() byte {
	if p.i < len(p.src) {
		return p.src[p.i]
	}
	return 0
}

func (p *flatParser) spaces() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

// comment skips a "#" comment through its newline. Control characters
// and invalid UTF-8 are left to hclsyntax.
func (p *flatParser) comment() bool {
	end := bytes.IndexByte(p.src[p.i:], '\n')
	if end < 0 {
		end = len(p.src) - p.i
	}
	text := p.src[p.i : p.i+end]
	for _, c := range text {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	if !utf8.Valid(text) {
		return false
	}
	p.i += end
	if p.i < len(p.src) {
		p.i++
	}
	return true
}

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentByte(c byte) bool {
	return isIdentStart(c) || c == '-' || '0' <= c && c <= '9'
}

// ident reads an ASCII identifier; a non-ASCII byte after it means the
// identifier goes on in Unicode, which is left to hclsyntax.
func (p *flatParser) ident() (string, bool) {
	start := p.i
	if !isIdentStart(p.peek()) {
		return "", false
	}
	for p.i < len(p.src) && isIdentByte(p.src[p.i]) {
		p.i++
	}
	if p.peek() >= utf8.RuneSelf {
		return "", false
	}
	return string(p.src[start:p.i]), true
}

func (p *flatParser) value() (cty.Value, bool) {
	c := p.peek()
	switch {
	case c == '"':
		return p.quoted()
	case '0' <= c && c <= '9':
		return p.number()
	case isIdentStart(c):
		start := p.i
		for p.i < len(p.src) && isIdentByte(p.src[p.i]) {
			p.i++
		}
		if p.peek() >= utf8.RuneSelf {
			return cty.NilVal, false
		}
		switch string(p.src[start:p.i]) {
		case "true":
			return cty.True, true
		case "false":
			return cty.False, true
		case "null":
			return cty.NullVal(cty.DynamicPseudoType), true
		}
	}
	return cty.NilVal, false
}

// number reads digits ["." digits] [("e"|"E") ["+"|"-"] digits], the
// number literal of hclsyntax, and converts it as hclsyntax does.
func (p *flatParser) number() (cty.Value, bool) {
	start := p.i
	digits := func() bool {
		n := p.i
		for p.i < len(p.src) && '0' <= p.src[p.i] && p.src[p.i] <= '9' {
			p.i++
		}
		return p.i > n
	}
	digits()
	if p.peek() == '.' {
		p.i++
		if !digits() {
			return cty.NilVal, false
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if !digits() {
			return cty.NilVal, false
		}
	}
	v, err := cty.ParseNumberVal(string(p.src[start:p.i]))
	return v, err == nil
}

// quoted reads a quoted string literal without template sequences,
// decoding escapes as hclsyntax.ParseStringLiteralToken does.
func (p *flatParser) quoted() (cty.Value, bool) {
	p.i++ // the opening quote
	b := p.buf[:0]
	for {
		if p.i >= len(p.src) {
			return cty.NilVal, false
		}
		c := p.src[p.i]
		switch {
		case c == '"':
			p.i++
			p.buf = b
			if !utf8.Valid(b) {
				return cty.NilVal, false
			}
			return cty.StringVal(string(b)), true
		case c == '\\':
			var ok bool
			if b, ok = p.escape(b); !ok {
				return cty.NilVal, false
			}
		case c == '$' || c == '%':
			// A run of n introducers before "{" is n-1 of them and a
			// literal "{"; a single one starts a template sequence.
			n := 1
			for p.i+n < len(p.src) && p.src[p.i+n] == c {
				n++
			}
			if p.i+n < len(p.src) && p.src[p.i+n] == '{' {
				if n == 1 {
					return cty.NilVal, false
				}
				b = append(b, p.src[p.i:p.i+n-1]...)
				b = append(b, '{')
				p.i += n + 1
				continue
			}
			b = append(b, p.src[p.i:p.i+n]...)
			p.i += n
		case c < 0x20 || c == 0x7f:
			return cty.NilVal, false
		default:
			b = append(b, c)
			p.i++
		}
	}
}

// escape decodes the backslash escape at p.i onto b.
func (p *flatParser) escape(b []byte) ([]byte, bool) {
	if p.i+1 >= len(p.src) {
		return b, false
	}
	sel := p.src[p.i+1]
	p.i += 2
	switch sel {
	case 'n':
		return append(b, '\n'), true
	case 'r':
		return append(b, '\r'), true
	case 't':
		return append(b, '\t'), true
	case '"':
		return append(b, '"'), true
	case '\\':
		return append(b, '\\'), true
	case 'u', 'U':
		n := 4
		if sel == 'U' {
			n = 8
		}
		if p.i+n > len(p.src) {
			return b, false
		}
		hex := p.src[p.i : p.i+n]
		for _, h := range hex {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return b, false
			}
		}
		v, err := strconv.ParseUint(string(hex), 16, 32)
		r := rune(v)
		if err != nil || utf8.RuneLen(r) < 0 {
			return b, false
		}
		p.i += n
		return utf8.AppendRune(b, r), true
	}
	return b, false
}
