package tfvars

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

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
