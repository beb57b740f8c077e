package tfvars

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Format is the syntax of a variable-definitions file.
type Format int

const (
	// HCL is the native syntax of .tfvars files.
	HCL Format = iota
	// JSON is the syntax of .tfvars.json files.
	JSON
)

func (f Format) String() string {
	switch f {
	case HCL:
		return "HCL"
	case JSON:
		return "JSON"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// FormatOf returns the format OpenTofu assumes for a -var-file name: JSON
// when it ends in ".json" (case-sensitive, as in OpenTofu), HCL otherwise.
func FormatOf(filename string) Format {
	if strings.HasSuffix(filename, ".json") {
		return JSON
	}
	return HCL
}

// Options tunes Render. The zero value, and a nil *Options, mean the
// defaults.
type Options struct {
	// Format is the output syntax. Default HCL.
	Format Format
	// Order lists names to render first, in this order; the other names
	// follow sorted by name. Names in Order without a value are skipped, and
	// a repeated name is rendered once. Default: all names sorted.
	Order []string
	// Header is comment text written at the top of HCL output, each line
	// prefixed with "# " (an empty line gets "#"). It is ignored for JSON,
	// which has no comments. It must be valid UTF-8 without control
	// characters other than newline and tab. Default: no header.
	Header string
}

// Render writes values as a variable-definitions file. The output is
// deterministic: the same values and options give the same bytes.
//
// HCL output is produced by hclwrite, which escapes quotes, backslashes,
// control characters and the template introducers "${" and "%{", and then
// formatted canonically. JSON output is one object mapping each name to the
// cty JSON encoding of its value, indented by two spaces, with a trailing
// newline; as encoding/json does, "<", ">" and "&" are written as \u
// escapes, and so are non-printable runes, as in the HCL output. In both
// formats, sets are written as lists and maps as objects; convert them back
// with the schema (Check, Verify) rather than expecting the same cty type
// from Parse.
//
// A value that cannot be written faithfully is an error: unknown values,
// marked values (for example sensitive marks), strings or keys that are not
// valid UTF-8, infinite numbers, capsule types, cty.NilVal, and names that
// are not HCL identifiers. All such problems are reported at once, sorted by
// name, each a *VariableError wrapping ErrUnrenderable.
func Render(values map[string]cty.Value, opts *Options) ([]byte, error) {
	if opts == nil {
		opts = &Options{}
	}
	var errs []*VariableError
	for name, val := range values {
		if err := renderable(name, val); err != nil {
			errs = append(errs, &VariableError{Name: name, Err: fmt.Errorf("%w: %s", ErrUnrenderable, err)})
		}
	}
	if err := joinSorted(errs); err != nil {
		return nil, fmt.Errorf("render tfvars: %w", err)
	}
	names := orderNames(values, opts.Order)
	switch opts.Format {
	case HCL:
		return renderHCL(values, names, opts.Header)
	case JSON:
		return renderJSON(values, names)
	}
	return nil, fmt.Errorf("render tfvars: unknown format %v", opts.Format)
}

func orderNames(values map[string]cty.Value, order []string) []string {
	names := make([]string, 0, len(values))
	seen := make(map[string]bool, len(values))
	for _, n := range order {
		if _, ok := values[n]; ok && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	rest := make([]string, 0, len(values)-len(names))
	for n := range values {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

func renderHCL(values map[string]cty.Value, names []string, header string) ([]byte, error) {
	var buf bytes.Buffer
	if header != "" {
		if err := writeHeader(&buf, header); err != nil {
			return nil, fmt.Errorf("render tfvars: header: %w", err)
		}
	}
	if !appendFlat(&buf, values, names) {
		buf.Write(formatHCL(values, names))
	}
	return buf.Bytes(), nil
}

// formatHCL is the general path: an hclwrite body, formatted canonically.
func formatHCL(values map[string]cty.Value, names []string) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	for _, n := range names {
		body.SetAttributeRaw(n, tokensFor(values[n]))
	}
	// Format aligns the "=" of consecutive attributes; it only changes
	// spacing between tokens, never the bytes of a string literal.
	return hclwrite.Format(f.Bytes())
}

// appendFlat is the fast path for the common file, every value a primitive
// or null and every name ASCII: one line per attribute with the "=" aligned
// as hclwrite.Format aligns it, and each value's tokens from hclwrite,
// which does the escaping. It writes the same bytes as formatHCL (a test
// and the fuzz target hold it to that) at a tenth of the cost, since it
// skips building a syntax tree and formatting it. It reports false, having
// written nothing, when the values need the general path.
func appendFlat(buf *bytes.Buffer, values map[string]cty.Value, names []string) bool {
	width := 0
	for _, n := range names {
		v := values[n]
		if !v.IsNull() && !v.Type().IsPrimitiveType() {
			return false
		}
		for i := range len(n) {
			if n[i] >= utf8.RuneSelf {
				return false
			}
		}
		width = max(width, len(n))
	}
	for _, n := range names {
		buf.WriteString(n)
		for range width - len(n) {
			buf.WriteByte(' ')
		}
		buf.WriteString(" = ")
		appendPrimitive(buf, values[n])
		buf.WriteByte('\n')
	}
	return true
}

// appendPrimitive writes a primitive or null value as hclwrite writes it.
// Strings go through appendQuoted, and integers that fit an int64 are
// formatted directly, which gives the same digits without big.Float's text
// conversion.
func appendPrimitive(buf *bytes.Buffer, v cty.Value) {
	switch {
	case v.IsNull():
		buf.WriteString("null")
	case v.Type() == cty.String:
		appendQuoted(buf, v.AsString())
	case v.Type() == cty.Bool:
		buf.WriteString(strconv.FormatBool(v.True()))
	default:
		if i, acc := v.AsBigFloat().Int64(); acc == big.Exact {
			buf.WriteString(strconv.FormatInt(i, 10))
			return
		}
		for _, t := range hclwrite.TokensForValue(v) {
			buf.Write(t.Bytes)
		}
	}
}

// tokensFor is hclwrite.TokensForValue except for object and map keys:
// hclwrite writes any key that is a valid identifier bare, but a bare "for"
// as the first key makes the parser read the object as a for expression
// ({ for = 1 } does not parse). Keys that are keywords are therefore quoted;
// quoting never changes the key's value.
func tokensFor(v cty.Value) hclwrite.Tokens {
	ty := v.Type()
	switch {
	case v.IsNull() || ty.IsPrimitiveType():
		return hclwrite.TokensForValue(v)
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		elems := make([]hclwrite.Tokens, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			elems = append(elems, tokensFor(e))
		}
		return hclwrite.TokensForTuple(elems)
	case ty.IsMapType() || ty.IsObjectType():
		attrs := make([]hclwrite.ObjectAttrTokens, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			name := hclwrite.TokensForValue(k)
			if key := k.AsString(); hclsyntax.ValidIdentifier(key) && !hclKeywords[key] {
				name = hclwrite.TokensForIdentifier(key)
			}
			attrs = append(attrs, hclwrite.ObjectAttrTokens{Name: name, Value: tokensFor(e)})
		}
		return hclwrite.TokensForObject(attrs)
	}
	return hclwrite.TokensForValue(v) // renderable has excluded everything else
}

// hclKeywords are identifiers with a meaning of their own in HCL
// expressions; as object keys they are written quoted.
var hclKeywords = map[string]bool{
	"for": true, "in": true, "if": true, "else": true, "endif": true, "endfor": true,
	"null": true, "true": true, "false": true,
}

func writeHeader(buf *bytes.Buffer, header string) error {
	if !utf8.ValidString(header) {
		return errors.New("not valid UTF-8")
	}
	for _, line := range strings.Split(strings.TrimSuffix(header, "\n"), "\n") {
		for _, r := range line {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return fmt.Errorf("control character %U", r)
			}
		}
		if line == "" {
			buf.WriteString("#\n")
			continue
		}
		buf.WriteString("# " + line + "\n")
	}
	buf.WriteString("\n")
	return nil
}

func renderJSON(values map[string]cty.Value, names []string) ([]byte, error) {
	var raw bytes.Buffer
	raw.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			raw.WriteByte(',')
		}
		key, err := json.Marshal(n)
		if err != nil {
			return nil, fmt.Errorf("render tfvars: %w", &VariableError{Name: n, Err: err})
		}
		val := values[n]
		enc, err := ctyjson.Marshal(val, val.Type())
		if err != nil {
			return nil, fmt.Errorf("render tfvars: %w", &VariableError{Name: n, Err: fmt.Errorf("%w: %v", ErrUnrenderable, err)})
		}
		raw.Write(key)
		raw.WriteByte(':')
		raw.Write(enc)
	}
	raw.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, raw.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("render tfvars: %w", err)
	}
	out.WriteByte('\n')
	return escapeInvisible(out.Bytes()), nil
}

// escapeInvisible replaces every non-printable rune that encoding/json left
// raw (DEL, zero-width and bidirectional controls, BOM, ...) with a \u
// escape, so that a person reading the file sees what it holds, as in the
// HCL output. Raw non-ASCII can only occur inside JSON strings, where an
// escape means the same rune.
func escapeInvisible(b []byte) []byte {
	clean := true
	for _, r := range string(b) {
		if r >= 0x7f && !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for _, r := range string(b) {
		switch {
		case r < 0x7f || unicode.IsPrint(r):
			out = utf8.AppendRune(out, r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out
}

// renderable returns why val cannot be written faithfully, nil if it can.
func renderable(name string, val cty.Value) error {
	if !validIdentifier(name) {
		return errors.New("name is not a valid identifier")
	}
	if val == cty.NilVal {
		return errors.New("no value (cty.NilVal)")
	}
	if val.Type().IsPrimitiveType() {
		// What the walk below does for one value, without its allocations.
		if msg := problemOf(val); msg != "" {
			return errors.New(msg)
		}
		return nil
	}
	return cty.Walk(val, func(p cty.Path, v cty.Value) (bool, error) {
		if v.IsKnown() && !v.IsMarked() && v.IsNull() {
			return false, nil
		}
		if msg := problemOf(v); msg != "" {
			if len(p) > 0 {
				msg = "at " + formatPath(p) + ": " + msg
			}
			return false, errors.New(msg)
		}
		return true, nil
	})
}

// problemOf returns why v itself, not its elements, cannot be written
// faithfully, "" if it can.
func problemOf(v cty.Value) string {
	switch {
	case v.IsMarked():
		return fmt.Sprintf("value is marked (%s)", markNames(v))
	case !v.IsKnown():
		return "value is unknown"
	case v.IsNull():
		return ""
	case v.Type() == cty.String && !utf8.ValidString(v.AsString()):
		return "string is not valid UTF-8"
	case v.Type() == cty.Number && v.AsBigFloat().IsInf():
		return "number is infinite"
	case v.Type().IsCapsuleType():
		return "capsule type " + v.Type().FriendlyName()
	case v.Type().IsMapType() || v.Type().IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, _ := it.Element()
			if !utf8.ValidString(k.AsString()) {
				return "key is not valid UTF-8"
			}
		}
	}
	return ""
}

// validIdentifier is hclsyntax.ValidIdentifier, answered without running
// the lexer for the usual ASCII name.
func validIdentifier(name string) bool {
	for i := range len(name) {
		c := name[i]
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && (c == '-' || '0' <= c && c <= '9'):
		default:
			return hclsyntax.ValidIdentifier(name)
		}
	}
	return name != ""
}

func markNames(v cty.Value) string {
	var names []string
	for m := range v.Marks() {
		names = append(names, fmt.Sprint(m))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// compactLiteral writes v on one line in HCL literal syntax, for messages.
// Unlike hclwrite it never panics: unknown and marked values are described
// instead.
// Literal returns v as a one-line HCL literal ("g4dn.xlarge" quoted, 3,
// true, ["a", "b"]), for messages and listings; sensitive-marked values
// are shown, so callers redact first.
func Literal(v cty.Value) string { return compactLiteral(v) }

func compactLiteral(v cty.Value) string {
	var b strings.Builder
	writeCompact(&b, v)
	return b.String()
}

func writeCompact(b *strings.Builder, v cty.Value) {
	switch {
	case v == cty.NilVal:
		b.WriteString("(no value)")
	case v.IsMarked():
		b.WriteString("(marked)")
	case !v.IsKnown():
		b.WriteString("(unknown)")
	case v.IsNull():
		b.WriteString("null")
	case v.Type() == cty.String:
		b.WriteString(quote(v.AsString()))
	case v.Type() == cty.Number:
		b.WriteString(v.AsBigFloat().Text('f', -1))
	case v.Type() == cty.Bool:
		fmt.Fprint(b, v.True())
	case v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType():
		b.WriteByte('[')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			_, e := it.Element()
			writeCompact(b, e)
		}
		b.WriteByte(']')
	case v.Type().IsMapType() || v.Type().IsObjectType():
		if v.LengthInt() == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{ ")
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			k, e := it.Element()
			if ks := k.AsString(); hclsyntax.ValidIdentifier(ks) {
				b.WriteString(ks)
			} else {
				b.WriteString(quote(ks))
			}
			b.WriteString(" = ")
			writeCompact(b, e)
		}
		b.WriteString(" }")
	default:
		b.WriteString("(" + v.Type().FriendlyName() + ")")
	}
}

// quote writes s as an HCL quoted string using hclwrite's escaping.
func quote(s string) string {
	if !utf8.ValidString(s) {
		return fmt.Sprintf("(invalid UTF-8 %q)", s)
	}
	return string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes())
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
