package tfvars

import (
	"bytes"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// FuzzRenderParse: any valid UTF-8 string survives Render then Parse, in
// both formats, byte for byte (after cty's NFC normalization, which happens
// when the value is built).
func FuzzRenderParse(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		v := cty.StringVal(s)
		values := map[string]cty.Value{
			"v": v,
			// The same string as a map key and inside a list.
			"m": cty.MapVal(map[string]cty.Value{s: v}),
			"l": cty.ListVal([]cty.Value{v}),
		}
		// The fast path for primitive values writes what hclwrite.Format
		// writes.
		flat := map[string]cty.Value{"v": v, "length_of_v": cty.NumberIntVal(int64(len(s)))}
		names := orderNames(flat, nil)
		var buf bytes.Buffer
		require.True(t, appendFlat(&buf, flat, names), "fast path refused %q", s)
		require.Equal(t, string(formatHCL(flat, names)), buf.String(), "fast path for %q against hclwrite.Format", s)
		for _, format := range []Format{HCL, JSON} {
			src, err := Render(values, &Options{Format: format})
			require.NoError(t, err, "%v: Render(%q)", format, s)
			got, err := Parse(src, format)
			require.NoError(t, err, "%v: Parse of Render(%q):\n%s", format, s, src)
			g := got["v"]
			require.True(t, g.Type() == cty.String, "%v: round trip of %q gave %#v\n%s", format, v.AsString(), g, src)
			require.Equal(t, v.AsString(), g.AsString(), "%v: round trip of %q\n%s", format, v.AsString(), src)
			require.NoError(t, Verify(src, format, values, nil), "%v: Verify(%q)\n%s", format, s, src)
		}
	})
}

// FuzzParse: Parse never panics, whatever the input; whatever it accepts,
// Render can write again and Verify confirms.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"a = 1\n",
		`a = "${x}"`,
		`a = "%{if true}x%{endif}"`,
		"a = <<EOT\nx\nEOT\n",
		"a = [1, \"b\", { c = null }]\n",
		"a = { \"k\" = true, for = 2 }\n",
		`{"a": {"b": [1, 2.5, "${x}"]}}`,
		`variable "x" {}`,
		"a = 1\na = 2\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	for _, s := range flatCases {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, src []byte, json bool) {
		format := HCL
		if json {
			format = JSON
		}
		if format == HCL {
			sameAsHCL(t, src)
		}
		got, err := Parse(src, format)
		if err != nil {
			return
		}
		// Anything Parse accepts is a known, unmarked value of literal
		// types; some cannot be rendered (invalid UTF-8 in JSON strings is
		// replaced by the decoder, but a name need not be an identifier in
		// JSON), which must be an error rather than a panic.
		out, err := Render(got, &Options{Format: format})
		if err != nil {
			return
		}
		require.NoError(t, Verify(out, format, got, nil), "Verify(Render(Parse(%s)))\n%s", strconv.Quote(string(src)), out)
	})
}

// sameAsHCL fails t when parseFlat accepts src but hclsyntax reads it
// differently, or rejects it.
func sameAsHCL(t *testing.T, src []byte) {
	t.Helper()
	flat, ok := parseFlat(src)
	if !ok {
		return
	}
	quoted := strconv.Quote(string(src))
	full, err := parseFull(src, HCL)
	require.NoError(t, err, "parseFlat accepts %s, hclsyntax rejects it", quoted)
	require.Len(t, flat, len(full), "parseFlat(%s) against hclsyntax", quoted)
	for name, want := range full {
		got, ok := flat[name]
		require.True(t, ok && got.RawEquals(want), "parseFlat(%s)[%q] = %#v, hclsyntax gives %#v", quoted, name, got, want)
	}
}
