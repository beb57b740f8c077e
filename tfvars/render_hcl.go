package tfvars

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

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
			if key := k.AsString(); validIdentifier(key) && !hclKeywords[key] {
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
