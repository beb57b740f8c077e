package tfvars

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

func TestVerify(t *testing.T) {
	src := []byte("name = \"lab\"\ncount = 5\nratio = 0.1\nzones = [\"a\"]\nflag = \"true\"\nextra = 1\n")
	exact := map[string]cty.Value{
		"name":  cty.StringVal("lab"),
		"count": cty.NumberFloatVal(5.0), // numbers compare by value
		"ratio": cty.NumberFloatVal(0.1),
		"zones": cty.ListVal([]cty.Value{cty.StringVal("a")}),
		"flag":  cty.True, // "true" converts to bool
		"extra": cty.NumberIntVal(1),
	}
	with := func(name string, v cty.Value) map[string]cty.Value {
		m := make(map[string]cty.Value, len(exact))
		for k, x := range exact {
			m[k] = x
		}
		m[name] = v
		return m
	}
	tests := []struct {
		name  string
		want  map[string]cty.Value
		bound []Expectation
		msg   []string // the lines of the message after "verify tfvars: "; none for success
	}{
		{name: "exact after conversion", want: exact},
		{
			name: "all mismatches at once",
			want: map[string]cty.Value{
				"name":    cty.StringVal("lab2"),
				"count":   cty.NumberIntVal(5),
				"ratio":   cty.NumberFloatVal(0.2),
				"zones":   cty.SetVal([]cty.Value{cty.StringVal("b")}),
				"flag":    cty.False,
				"missing": cty.StringVal("m"),
			},
			msg: []string{
				`extra = 1 is not wanted`,
				`flag = "true" but want false`,
				`missing is missing but want "m"`,
				`name = "lab" but want "lab2"`,
				`ratio = 0.1 but want 0.2`,
				`zones = ["a"] but want ["b"]`,
			},
		},
		{name: "unconvertible", want: with("name", cty.NumberIntVal(1)), msg: []string{`name = "lab" but want 1`}},
		{name: "nil want is an empty file", msg: []string{
			`count = 5 is not wanted`, `extra = 1 is not wanted`, `flag = "true" is not wanted`,
			`name = "lab" is not wanted`, `ratio = 0.1 is not wanted`, `zones = ["a"] is not wanted`,
		}},
		{
			name: "bound expectations that hold",
			want: exact,
			bound: []Expectation{
				{Variable: "count", Source: "machine.count", Value: cty.NumberIntVal(5)},
				{Variable: "flag", Source: "gpu", Value: cty.True},
			},
		},
		{
			name: "bound mismatches first, in their order, naming the source",
			want: exact,
			bound: []Expectation{
				{Variable: "name", Source: "machine.name", Value: cty.StringVal("y")},
				{Variable: "flag", Source: "gpu", Value: cty.True},
				{Variable: "region", Source: "app.region", Value: cty.StringVal("us-west-2")},
				{Variable: "count", Source: "url port", Value: cty.NumberFloatVal(80)},
			},
			msg: []string{
				`name = "lab" but machine.name = "y"`,
				`region is missing but app.region = "us-west-2"`,
				`count = 5 but url port = 80`,
			},
		},
		{
			name:  "a variable is reported once, by its expectation",
			want:  with("name", cty.StringVal("z")),
			bound: []Expectation{{Variable: "name", Source: "machine.name", Value: cty.StringVal("y")}},
			msg:   []string{`name = "lab" but machine.name = "y"`},
		},
		{
			name:  "bound and other mismatches together",
			want:  with("ratio", cty.NumberFloatVal(0.2)),
			bound: []Expectation{{Variable: "name", Source: "machine.name", Value: cty.StringVal("y")}},
			msg:   []string{`name = "lab" but machine.name = "y"`, `ratio = 0.1 but want 0.2`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(src, HCL, tt.want, tt.bound)
			if len(tt.msg) == 0 {
				require.NoError(t, err, tt.name)
				return
			}
			require.EqualError(t, err, "verify tfvars: "+strings.Join(tt.msg, "\n"), tt.name)
			var me *MismatchError
			assert.ErrorAs(t, err, &me, tt.name)
		})
	}
}

func TestVerifyMismatchFields(t *testing.T) {
	src := []byte("machine_type = \"x\"\n")
	err := Verify(src, HCL, map[string]cty.Value{"machine_type": cty.StringVal("x")},
		[]Expectation{{Variable: "machine_type", Source: "machine.machine_type", Value: cty.StringVal("y")}})
	var me *MismatchError
	require.ErrorAs(t, err, &me)
	want := &MismatchError{Variable: "machine_type", Source: "machine.machine_type", Got: cty.StringVal("x"), Want: cty.StringVal("y")}
	assertCty(t, want, me, "the mismatch")
}

func TestVerifyParseError(t *testing.T) {
	for _, tt := range []struct {
		name   string
		src    string
		format Format
	}{
		{"reference in HCL", `a = "${x}"`, HCL},
		{"not JSON", `{"a": `, JSON},
	} {
		err := Verify([]byte(tt.src), tt.format, nil, nil)
		require.Error(t, err, tt.name)
		assert.True(t, strings.HasPrefix(err.Error(), "verify tfvars: parse tfvars:"), "%s: %v", tt.name, err)
		var me *MismatchError
		assert.False(t, errors.As(err, &me), "%s: a parse error is no mismatch", tt.name)
	}
}
