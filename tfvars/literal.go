package tfvars

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// Literal returns v as a one-line HCL literal ("g4dn.xlarge" quoted, 3,
// true, ["a", "b"]), for messages and listings; sensitive-marked values
// are shown, so callers redact first.
func Literal(v cty.Value) string { return compactLiteral(v) }

// compactLiteral writes v on one line in HCL literal syntax, for messages.
// Unlike hclwrite it never panics: unknown and marked values are described
// instead.
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
			if ks := k.AsString(); validIdentifier(ks) && !hclKeywords[ks] {
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

// describeConvertError renders a cty/convert error with the path it occurred
// at, e.g. `.gpu: a bool is required`.
func describeConvertError(err error) string {
	var pe cty.PathError
	if errors.As(err, &pe) && len(pe.Path) > 0 {
		return formatPath(pe.Path) + ": " + pe.Error()
	}
	return err.Error()
}

func formatPath(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			b.WriteString("[" + compactLiteral(s.Key) + "]")
		}
	}
	return b.String()
}
