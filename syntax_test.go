package lablink_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// fill is base followed by comment lines up to line n-1, so that what
// follows it starts on line n.
func fill(n int) string {
	var b strings.Builder
	b.WriteString(base)
	for i := baseLines + 1; i < n; i++ {
		fmt.Fprintf(&b, "# line %d\n", i)
	}
	return b.String()
}

// TestSyntaxErrorLines: a file that is not YAML fails with one
// *SyntaxError on the line (and column) of the mistake, with what to do.
// gopkg.in/yaml.v3 and go.yaml.in/yaml/v3 v3.0.6 (same parser) report the
// rows marked "yaml.v3: N" on line N, the line above the mistake or the
// start of the document.
func TestSyntaxErrorLines(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		line, col int
		msg, hint string
	}{
		{name: "unclosed double quote", yaml: "machine:\n  software: sleap\n  image: \"ghcr.io/x\n  ami_id: ami-1\n",
			line: 3, col: 10, msg: "could not find end character of double-quoted text", hint: `close the '"' opened here`},
		{name: "unclosed single quote", yaml: "app:\n  region: 'us-west-2\n",
			line: 2, col: 11, msg: "could not find end character of single-quoted text", hint: `close the "'" opened here`},
		{name: "key indented less (yaml.v3: 2)", yaml: "machine:\n  software: sleap\n image: x\n",
			line: 3, col: 2, msg: "value is not allowed in this context", hint: "indent this line like the keys of its section"},
		{name: "key indented more", yaml: "machine:\n  software: sleap\n    image: x\n",
			line: 3, col: 10, msg: "mapping value is not allowed in this context", hint: "indent this key like the keys above it"},
		{name: "key under a scalar", yaml: "machine: x\n  software: a\n",
			line: 2, col: 11, msg: "mapping value is not allowed in this context", hint: `quote a value that holds ": "`},
		{name: "tab indentation", yaml: "machine:\n\tsoftware: sleap\n",
			line: 2, col: 1, msg: "that cannot start any token", hint: "indent with spaces"},
		{name: "stray colon in a value", yaml: "machine:\n  software: a: b\n",
			line: 2, col: 14, msg: "mapping value is not allowed in this context", hint: `quote a value that holds ": "`},
		{name: "stray colon after a non-ASCII character", yaml: "machine:\n  software: é: b\n",
			line: 2, col: 14, msg: "mapping value is not allowed in this context"},
		{name: "stray colon in a block scalar's next key", yaml: "startup_script:\n  success_check: |\n    a\n  b c: d: e\n",
			line: 4, col: 9, msg: "mapping value is not allowed in this context"},
		{name: "list never closed", yaml: "machine: [\n",
			line: 1, col: 10, msg: "sequence end token ']' not found", hint: "close the list opened with '[' here"},
		{name: "list not closed before the next key (yaml.v3: 1)", yaml: "monitoring:\n  process_allowlist: [a, b\n  watch_dir: /x\n",
			line: 3, col: 3, msg: "',' or ']' must be specified", hint: "close the list opened with '[' above"},
		{name: "mapping never closed (yaml.v3: 1)", yaml: "machine: {software: a\n",
			line: 1, col: 10, msg: "could not find flow mapping end token '}'", hint: "close the mapping opened with '{' here"},
		{name: "list item in a mapping (yaml.v3: 2)", yaml: "machine:\n  software: a\n- b\n",
			line: 3, col: 1, msg: "non-map value is specified", hint: `write "key: value" here`},
		{name: "key without a colon", yaml: "machine:\n  software: a\n  image\n  ami_id: x\n",
			line: 3, col: 3, msg: "non-map value is specified"},
		{name: "reserved character", yaml: "machine:\n  software: @x\n",
			line: 2, col: 13, msg: "'@' is a reserved character", hint: "quote the value"},
		{name: "backtick", yaml: "machine:\n  software: `x`\n",
			line: 2, col: 13, msg: "'`' is a reserved character", hint: "quote the value"},
		{name: "text after a quoted value", yaml: "app:\n  region: \"us-west-2\"x\n",
			line: 2, col: 22, msg: "value is not allowed in this context", hint: "text follows the value"},
		{name: "stray closing bracket (yaml.v3: no error)", yaml: "ssl:\n  provider: none\n...\n]\n",
			line: 4, col: 1, msg: "could not find '[' character corresponding to ']'", hint: "remove the ']'"},
		{name: "second document (yaml.v3: no error)", yaml: "ssl:\n  provider: none\n---\nmachine:\n  software: x\n",
			line: 4, msg: "a second YAML document starts here"},
		{name: "unknown YAML version", yaml: "%YAML 9.9\n---\nssl:\n  provider: none\n",
			line: 1, col: 7, msg: `unknown YAML version "9.9"`},
		// Issue 20's report: an error on line 29 must say line 29.
		{name: "line 29, value with a colon", yaml: fill(28) + "machine:\n  software: a: b\n",
			line: 29, col: 14, msg: "mapping value is not allowed in this context"},
		{name: "line 29, bad indentation (yaml.v3: 28)", yaml: fill(27) + "machine:\n  software: a\n image: b\n",
			line: 29, col: 2, msg: "value is not allowed in this context"},
		{name: "line 29, unclosed quote", yaml: fill(29) + "machine: \"x\n",
			line: 29, col: 10, msg: "could not find end character of double-quoted text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := lablink.ParseConfig([]byte(tt.yaml))
			require.Error(t, err)
			var se *lablink.SyntaxError
			require.ErrorAs(t, err, &se, "error: %v", err)
			assert.ErrorIs(t, err, lablink.ErrSyntax)
			assert.Equal(t, tt.line, se.Line, "line; error: %v", err)
			assert.Equal(t, tt.col, se.Column, "column; error: %v", err)
			assert.Contains(t, se.Msg, tt.msg)
			assert.Contains(t, se.Msg, tt.hint)
			assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: yaml syntax error: ", tt.line)), "text: %v", err)
		})
	}
}

// TestSyntaxErrorText pins the whole text from LoadConfig and from
// ParseConfig.
func TestSyntaxErrorText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte("machine:\n\tsoftware: sleap\n"), 0o600))
	_, _, err := lablink.LoadConfig(path)
	assert.EqualError(t, err, path+":2: yaml syntax error: found character '\t' that cannot start any token; indent with spaces: YAML does not allow tabs there (column 1)")
	_, _, err = lablink.ParseConfig([]byte("machine:\n\tsoftware: sleap\n"))
	assert.EqualError(t, err, "line 2: yaml syntax error: found character '\t' that cannot start any token; indent with spaces: YAML does not allow tabs there (column 1)")
}

// TestAliases: an alias resolves to the last anchor of its name above it,
// and one with no such anchor is an error on its line.
func TestAliases(t *testing.T) {
	cfg, _, err := lablink.ParseConfig([]byte(base + "app:\n  region: &r eu-west-1\nmachine:\n  software: &s napari\n  image: *s\nmonitoring:\n  process_allowlist: [*s, *r]\n"))
	require.NoError(t, err)
	assert.Equal(t, "napari", cfg.Machine.Image)
	assert.Equal(t, []string{"napari", "eu-west-1"}, cfg.Monitoring.ProcessAllowlist)

	_, _, err = lablink.ParseConfig([]byte(base + "machine:\n  software: *later\n  image: &later x\n"))
	assert.Equal(t, []fieldErr{{4, "machine.software", lablink.ErrWrongType}}, fieldErrors(t, err))
	assert.ErrorContains(t, err, "line 4: machine.software: wrong type: alias *later names no anchor &later defined above it")
}
