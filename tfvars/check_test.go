package tfvars

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// validBasic is a complete, valid value set for testdata/modules/basic.
func validBasic() map[string]cty.Value {
	return map[string]cty.Value{
		"name":     cty.StringVal("lab"),
		"token":    cty.StringVal("s3cret"),
		"anything": cty.ListVal([]cty.Value{cty.NumberIntVal(1)}),
		"zz_last":  cty.StringVal("z"),
	}
}

func with(base map[string]cty.Value, kv ...any) map[string]cty.Value {
	out := make(map[string]cty.Value, len(base))
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, name)
			continue
		}
		out[name] = kv[i+1].(cty.Value)
	}
	return out
}

func TestCheck(t *testing.T) {
	s := mustLoad(t, "basic")
	tests := []struct {
		name    string
		values  map[string]cty.Value
		wantIs  error  // nil: no error
		wantMsg string // whole message when wantIs != nil
	}{
		{name: "valid", values: validBasic()},
		{
			name:    "undeclared",
			values:  with(validBasic(), "nmae", cty.StringVal("typo")),
			wantIs:  ErrUndeclared,
			wantMsg: `variable "nmae": not declared by the module`,
		},
		{
			name:    "missing required",
			values:  with(validBasic(), "name", nil),
			wantIs:  ErrMissing,
			wantMsg: `variable "name": required but not set (declared at testdata/modules/basic/variables.tf:1,1-16)`,
		},
		{
			name:    "wrong primitive type",
			values:  with(validBasic(), "count_of", cty.StringVal("three")),
			wantIs:  ErrType,
			wantMsg: `variable "count_of": wrong type: want number, got string "three": a number is required`,
		},
		{
			name:    "wrong type inside an object",
			values:  with(validBasic(), "settings", cty.ObjectVal(map[string]cty.Value{"size": cty.NumberIntVal(2), "verbose": cty.StringVal("loud")})),
			wantIs:  ErrType,
			wantMsg: `variable "settings": wrong type: want object({inner=object({depth=number}),label=string,size=number,verbose=bool}), got object: .verbose: a bool is required`,
		},
		{
			name:    "missing object attribute",
			values:  with(validBasic(), "settings", cty.EmptyObjectVal),
			wantIs:  ErrType,
			wantMsg: `variable "settings": wrong type: want object({inner=object({depth=number}),label=string,size=number,verbose=bool}), got object: attribute "size" is required`,
		},
		{
			name:    "sensitive value is not shown",
			values:  with(validBasic(), "token", cty.True),
			wantIs:  nil, // bool converts to string, as in OpenTofu
			wantMsg: "",
		},
		{
			name:    "sensitive value is not shown in a type error",
			values:  with(validBasic(), "token", cty.ListValEmpty(cty.String)),
			wantIs:  ErrType,
			wantMsg: `variable "token": wrong type: want string, got list of string: string required, but have list of string`,
		},
		{
			name:    "null for non-nullable",
			values:  with(validBasic(), "region", cty.NullVal(cty.String)),
			wantIs:  ErrNull,
			wantMsg: `variable "region": null not allowed (nullable = false)`,
		},
		{
			name:    "null for required non-nullable",
			values:  with(validBasic(), "zz_last", cty.NullVal(cty.DynamicPseudoType)),
			wantIs:  ErrNull,
			wantMsg: `variable "zz_last": null not allowed (nullable = false)`,
		},
		{name: "null allowed when nullable", values: with(validBasic(), "name", cty.NullVal(cty.String), "maybe", cty.NullVal(cty.DynamicPseudoType))},
		{name: "string converts to bool like OpenTofu", values: with(validBasic(), "enabled", cty.StringVal("false"))},
		{name: "tuple converts to list", values: with(validBasic(), "zones", cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(1)}))},
		{name: "optional attributes filled", values: with(validBasic(), "settings", cty.ObjectVal(map[string]cty.Value{"size": cty.NumberIntVal(2)}))},
		{name: "any type takes anything", values: with(validBasic(), "anything", cty.ObjectVal(map[string]cty.Value{"x": cty.True}))},
		{
			name:    "nil value",
			values:  with(validBasic(), "count_of", cty.NilVal),
			wantIs:  ErrType,
			wantMsg: `variable "count_of": wrong type: no value (cty.NilVal)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Check(tt.values)
			if tt.wantIs == nil {
				require.NoError(t, err, "Check")
				return
			}
			assert.ErrorIs(t, err, tt.wantIs, "Check")
			assert.EqualError(t, err, tt.wantMsg, "Check")
		})
	}
}

func TestCheckHidesSensitiveValues(t *testing.T) {
	s, err := LoadSchemaFS(fstest.MapFS{"v.tf": {Data: []byte(`
variable "pin" {
  type      = number
  sensitive = true
}
variable "port" {
  type = number
}
`)}}, ".")
	require.NoError(t, err)
	err = s.Check(map[string]cty.Value{"pin": cty.StringVal("1234x"), "port": cty.StringVal("80x")})
	want := `variable "pin": wrong type: want number, got string: a number is required` + "\n" +
		`variable "port": wrong type: want number, got string "80x": a number is required`
	assert.EqualError(t, err, want, "Check: the sensitive value must not be shown")
}

func TestCheckReportsEverything(t *testing.T) {
	s := mustLoad(t, "basic")
	values := with(validBasic(),
		"name", nil, // missing
		"extra", cty.True, // undeclared
		"count_of", cty.StringVal("x"), // type
		"region", cty.NullVal(cty.String), // null
	)
	err := s.Check(values)
	require.Error(t, err, "Check")
	want := strings.Join([]string{
		`variable "count_of": wrong type: want number, got string "x": a number is required`,
		`variable "extra": not declared by the module`,
		`variable "name": required but not set (declared at testdata/modules/basic/variables.tf:1,1-16)`,
		`variable "region": null not allowed (nullable = false)`,
	}, "\n")
	assert.EqualError(t, err, want, "Check")

	// Every sentinel is reachable, and each joined error is a *VariableError.
	for _, sentinel := range []error{ErrUndeclared, ErrMissing, ErrType, ErrNull} {
		assert.ErrorIs(t, err, sentinel, "Check")
	}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ve *VariableError
		require.ErrorAs(t, e, &ve, "joined error")
		got = append(got, ve.Name)
	}
	assert.Equal(t, []string{"count_of", "extra", "name", "region"}, got, "variable names of the joined errors")
}

func TestRedact(t *testing.T) {
	s := mustLoad(t, "client")
	values := map[string]cty.Value{
		"allocator_ip":  cty.StringVal("10.0.0.1"),
		"allocator_url": cty.StringVal("http://10.0.0.1"),
		"region":        cty.StringVal("us-west-2"),
		"undeclared":    cty.StringVal("kept"),
	}
	got, names := s.Redact(values)
	want := map[string]cty.Value{
		"allocator_ip":  Redacted(),
		"allocator_url": Redacted(),
		"region":        cty.StringVal("us-west-2"),
		"undeclared":    cty.StringVal("kept"),
	}
	assertCty(t, want, got, "Redact values")
	assert.Equal(t, []string{"allocator_ip", "allocator_url"}, names, "Redact names")
	assert.Equal(t, "10.0.0.1", values["allocator_ip"].AsString(), "Redact modified its input")
	got, names = s.Redact(nil)
	assert.Nil(t, got, "Redact(nil) values")
	assert.Nil(t, names, "Redact(nil) names")
}

// ctyCmp compares cty values by type and value.
var ctyCmp = cmp.Comparer(func(a, b cty.Value) bool {
	if a == cty.NilVal || b == cty.NilVal {
		return a == b
	}
	return a.Type().Equals(b.Type()) && a.RawEquals(b)
})

// assertCty asserts that want and got, cty values or structures holding
// them, are equal under ctyCmp. go-cmp stays here: a cty.Value is opaque
// (unexported fields, big.Float numbers), so testify's reflect.DeepEqual
// would compare representations, not values, and print nothing readable;
// cmp.Diff with the comparer compares by type and value and shows which
// variable differs.
func assertCty(t *testing.T, want, got any, msgAndArgs ...any) bool {
	t.Helper()
	if diff := cmp.Diff(want, got, ctyCmp); diff != "" {
		return assert.Fail(t, "cty values differ (-want +got):\n"+diff, msgAndArgs...)
	}
	return true
}
