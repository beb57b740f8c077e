package tfvars

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		format  Format
		want    map[string]cty.Value
		wantErr string // substring
	}{
		{
			name:   "literals keep their literal types",
			src:    "a = \"x\"\nb = 1.5\nc = true\nd = [\"p\", 2]\ne = { k = \"v\" }\nf = null\n",
			format: HCL,
			want: map[string]cty.Value{
				"a": cty.StringVal("x"),
				"b": cty.NumberFloatVal(1.5),
				"c": cty.True,
				"d": cty.TupleVal([]cty.Value{cty.StringVal("p"), cty.NumberIntVal(2)}),
				"e": cty.ObjectVal(map[string]cty.Value{"k": cty.StringVal("v")}),
				"f": cty.NullVal(cty.DynamicPseudoType),
			},
		},
		{
			// What upstream's f-string file ran into: a reference is refused...
			name:    "interpolation is an error in HCL",
			src:     `a = "${x}"`,
			format:  HCL,
			wantErr: "Variables not allowed",
		},
		{
			// ...but a directive without references is evaluated. Render
			// never writes one: hclwrite escapes "%{" as "%%{".
			name:   "template directive evaluates in HCL",
			src:    `a = "%{if true}x%{endif}"`,
			format: HCL,
			want:   map[string]cty.Value{"a": cty.StringVal("x")},
		},
		{
			name:   "escaped introducers are literal in HCL",
			src:    `a = "$${x} %%{y}"`,
			format: HCL,
			want:   map[string]cty.Value{"a": cty.StringVal("${x} %{y}")},
		},
		{
			name:   "heredoc",
			src:    "a = <<EOT\nline\nEOT\n",
			format: HCL,
			want:   map[string]cty.Value{"a": cty.StringVal("line\n")},
		},
		{
			name:    "function call is an error",
			src:     `a = upper("x")`,
			format:  HCL,
			wantErr: "Function calls not allowed",
		},
		{
			name:    "block is an error",
			src:     "variable \"a\" {\n  default = 1\n}\n",
			format:  HCL,
			wantErr: "Blocks are not allowed here",
		},
		{
			name:    "syntax error has a position",
			src:     "a = \"unterminated\n",
			format:  HCL,
			wantErr: "<tfvars>:1,",
		},
		{
			name:    "duplicate attribute",
			src:     "a = 1\na = 2\n",
			format:  HCL,
			wantErr: "Attribute redefined",
		},
		{
			name:   "JSON strings are literal",
			src:    `{"a": "${x}", "b": "%{if true}x%{endif}", "c": [1, "two"], "d": {"k": null}}`,
			format: JSON,
			want: map[string]cty.Value{
				"a": cty.StringVal("${x}"),
				"b": cty.StringVal("%{if true}x%{endif}"),
				"c": cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.StringVal("two")}),
				"d": cty.ObjectVal(map[string]cty.Value{"k": cty.NullVal(cty.DynamicPseudoType)}),
			},
		},
		{
			name:    "JSON must be an object",
			src:     `["a"]`,
			format:  JSON,
			wantErr: "<tfvars>:1,1",
		},
		{
			name:    "JSON duplicate key",
			src:     `{"a": 1, "a": 2}`,
			format:  JSON,
			wantErr: "Duplicate attribute definition",
		},
		{
			name:   "empty HCL",
			src:    "# nothing\n",
			format: HCL,
			want:   map[string]cty.Value{},
		},
		{
			name:    "unknown format",
			src:     "",
			format:  Format(9),
			wantErr: "unknown format Format(9)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.src), tt.format)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr, "Parse")
				return
			}
			require.NoError(t, err, "Parse")
			assertCty(t, tt.want, got, "Parse")
		})
	}
}

func TestParseReportsAllEvaluationErrors(t *testing.T) {
	_, err := Parse([]byte("b = \"${y}\"\na = \"${x}\"\nc = 1\n"), HCL)
	require.Error(t, err, "Parse")
	msg := err.Error()
	i, j := strings.Index(msg, "<tfvars>:1,"), strings.Index(msg, "<tfvars>:2,")
	assert.True(t, i >= 0 && j >= 0 && i < j, "want both errors in file order, got:\n%s", msg)
}

func TestDrift(t *testing.T) {
	s := mustLoad(t, "client")
	exp := []Expectation{
		{Variable: "machine_type", Source: "machine.machine_type", Value: cty.StringVal("g4dn.xlarge")},
		{Variable: "image_name", Source: "machine.image", Value: cty.StringVal("ghcr.io/talmolab/lablink-client-base-image:latest")},
		{Variable: "startup_max_attempts", Source: "startup_script.max_attempts", Value: cty.NumberFloatVal(3)},
		{Variable: "startup_base_delay_seconds", Source: "startup_script.base_delay_seconds", Value: cty.StringVal("30")},
		{Variable: "gpu_support", Source: "gpu", Value: cty.False},
		{Variable: "region", Source: "app.region", Value: cty.StringVal("us-west-2")},
		{Variable: "allocator_port", Source: "allocurl", Value: cty.StringVal("eighty")},
		{Variable: "not_declared", Source: "x", Value: cty.True},
	}
	got := s.Drift(exp)
	want := []string{
		`variable "allocator_port" defaults to 80 but allocurl defaults to "eighty"`,
		`variable "gpu_support" defaults to true but gpu defaults to false`,
		`variable "machine_type" defaults to "t2.medium" but machine.machine_type defaults to "g4dn.xlarge"`,
		`variable "region" has no default but app.region defaults to "us-west-2"`,
	}
	var gotStrings []string
	for _, d := range got {
		gotStrings = append(gotStrings, d.String())
	}
	assert.Equal(t, want, gotStrings, "Drift")
	wantMachine := Drift{Variable: "machine_type", Source: "machine.machine_type", Default: cty.StringVal("t2.medium"), HasDefault: true, Want: cty.StringVal("g4dn.xlarge")}
	if assert.Len(t, got, len(want), "Drift") {
		assertCty(t, wantMachine, got[2], "Drift[2]")
	}
	assert.Nil(t, s.Drift(exp[1:4]), "Drift of agreeing defaults")
}

// flatCases are inputs at the edges of what parseFlat reads itself; each
// must give what hclsyntax gives, or be left to it. FuzzParse starts from
// them too.
var flatCases = []string{
	"",
	"\n\n",
	"# only a comment",
	"#\n# header\n\na = 1\n",
	"a = 1",
	"a=1\nb\t=\t2\n",
	"a = 1 # trailing comment\n",
	"a = 1\na = 2\n",
	"_a-b_1 = true\n",
	"a = true\nb = false\nc = null\n",
	"a = truex\n",
	"a = nullable\n",
	"a = 0\nb = 007\nc = 1.50\nd = 1e3\ne = 2.5E-3\nf = 1e+2\n",
	"a = 1.\n",
	"a = 1e\n",
	"a = .5\n",
	"a = -1\n",
	"a = 1a\n",
	"a = 123456789012345678901234567890.123456789\n",
	`a = ""`,
	`a = "plain"`,
	`a = "q\"b\\n\n\r\t"`,
	`a = "\u00e9\U0001F600"`,
	`a = "\u00E9"`,
	`a = "\ud800"`,
	`a = "\U00110000"`,
	`a = "\u12"`,
	`a = "\x41"`,
	`a = "$${x}"`,
	`a = "$$${x}"`,
	`a = "$$$${x}"`,
	`a = "%%{if true}x%%{endif}"`,
	`a = "%%%{x}"`,
	`a = "${x}"`,
	`a = "%{if true}x%{endif}"`,
	`a = "$%{x}"`,
	`a = "%${x}"`,
	`a = "$$%%{"`,
	`a = "$$$"`,
	`a = "a$"`,
	`a = "{}$"`,
	"a = \"e\u0301\"\n",
	"a = \"\u200b\u2028\"\n",
	"a = \"\x85\"\n",
	"a = \"tab\there\"\n",
	"a = \"line\nbreak\"\n",
	"a = \"unterminated\n",
	"a = \"x\" \"y\"\n",
	"a = \"x\"y\n",
	"é = 1\n",
	"aé = 1\n",
	"a = 1\r\n",
	"a == 1\n",
	"a => 1\n",
	"a = <<EOT\nx\nEOT\n",
	"a = [1]\n",
	"a = x\n",
	"// c\na = 1\n",
	"/* c */ a = 1\n",
	"\ufeffa = 1\n",
	"# bad utf-8 \xff\na = 1\n",
	"a = \"bad utf-8 \xff\"\n",
	"  a = 1\n",
	"for = 1\nin = 2\nif = 3\n",
}

func TestParseFlatMatchesHCL(t *testing.T) {
	accepted := 0
	for _, src := range flatCases {
		t.Run(strconv.Quote(src), func(t *testing.T) {
			sameAsHCL(t, []byte(src))
		})
		if _, ok := parseFlat([]byte(src)); ok {
			accepted++
		}
	}
	// The fast path must actually serve the usual files.
	assert.GreaterOrEqual(t, accepted, 20,
		"parseFlat accepted %d of %d cases; the fast path has stopped serving flat files", accepted, len(flatCases))
	src, err := Render(clientValues(), &Options{Header: "header"})
	require.NoError(t, err, "Render")
	_, ok := parseFlat(src)
	assert.True(t, ok, "parseFlat does not read the rendered client tfvars:\n%s", src)
	sameAsHCL(t, src)
}
