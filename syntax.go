package lablink

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// parseYAML parses data and returns the body of its one document (nil for
// a file of only comments), or a *SyntaxError.
//
// The parser is goccy/go-yaml, chosen over gopkg.in/yaml.v3 (archived) and
// its continuation go.yaml.in/yaml/v3 because it reports the line of the
// mistake: both of the others blame the line above a badly indented key
// or a list item in a mapping, and line 1 for a list left open further
// down (see TestSyntaxErrorLines). Duplicate keys are left to the decoder,
// which reports them with the rest instead of stopping at the first.
func parseYAML(data []byte, file string) (body ast.Node, err error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	defer func() {
		// The parser must not take its caller down on hostile input; none
		// is known to panic it, and the fuzz target looks for one.
		if r := recover(); r != nil {
			body, err = nil, &SyntaxError{File: file, Msg: fmt.Sprintf("the YAML parser failed: %v", r)}
		}
	}()
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, syntaxError(data, file, err)
	}
	for _, doc := range f.Docs {
		if doc == nil || isEmpty(doc.Body) {
			continue
		}
		if body != nil {
			return nil, &SyntaxError{File: file, Line: lineOf(doc.Body),
				Msg: "a second YAML document starts here; a config file holds one: remove the \"---\" line above and merge the two"}
		}
		body = doc.Body
	}
	return body, nil
}

func isEmpty(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, null := n.(*ast.NullNode)
	return null
}

// syntaxError turns the parser's error into a *SyntaxError with a hint
// for the common mistakes.
func syntaxError(data []byte, file string, err error) *SyntaxError {
	var se *yaml.SyntaxError
	if !errors.As(err, &se) || se.Token == nil {
		return &SyntaxError{File: file, Msg: err.Error()}
	}
	out := &SyntaxError{File: file, Line: se.Token.Position.Line, Column: se.Token.Position.Column, Msg: se.Message}
	for _, h := range syntaxHints {
		if strings.Contains(se.Message, h.match) {
			if h.colon {
				out.Line, out.Column = colonAfter(data, out.Line, out.Column)
			}
			out.Msg += "; " + h.hint
			break
		}
	}
	return out
}

// syntaxHints say what to do about the parser's common messages. colon
// marks the messages about a ':' where the parser points at the start of
// the value that holds it, which may be lines above.
var syntaxHints = []struct {
	match string
	hint  string
	colon bool
}{
	{match: "mapping value is not allowed", colon: true,
		hint: `quote a value that holds ": ", or indent this key like the keys above it`},
	{match: "that cannot start any token", hint: "indent with spaces: YAML does not allow tabs there"},
	{match: "could not find end character of double-quoted", hint: `close the '"' opened here`},
	{match: "could not find end character of single-quoted", hint: `close the "'" opened here`},
	{match: "is a reserved character", hint: "quote the value"},
	{match: "found an invalid key", hint: "a key is a plain word such as machine_type"},
	{match: "map key-value is pre-defined", hint: "text follows the value: quote the whole value, or put the rest on a line of its own"},
	{match: "value is not allowed in this context", hint: "indent this line like the keys of its section, as \"key: value\""},
	{match: "non-map value is specified", hint: "write \"key: value\" here, indented like the keys of its section"},
	{match: "sequence end token ']' not found", hint: "close the list opened with '[' here"},
	{match: "',' or ']' must be specified", hint: "close the list opened with '[' above, or separate its items with ','"},
	{match: "could not find flow mapping end token '}'", hint: "close the mapping opened with '{' here"},
	{match: "',' or '}' must be specified", hint: "close the mapping opened with '{' above, or separate its entries with ','"},
	{match: "could not find '[' character", hint: "remove the ']' or open the list with '['"},
	{match: "could not find '{' character", hint: "remove the '}' or open the mapping with '{'"},
}

// colonAfter finds the first ": " (or ':' at the end of a line) at or
// after line:col of data, which is where a "mapping value is not allowed"
// mistake is; it returns line, col unchanged when there is none.
func colonAfter(data []byte, line, col int) (int, int) {
	lines := strings.Split(string(data), "\n")
	for l := line; l >= 1 && l <= len(lines); l++ {
		text := []rune(lines[l-1]) // the parser counts columns in characters
		from := 0
		if l == line {
			from = max(col-1, 0)
		}
		for i := from; i < len(text); i++ {
			if text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\t' || text[i+1] == '\r') {
				return l, i + 1
			}
		}
	}
	return line, col
}
