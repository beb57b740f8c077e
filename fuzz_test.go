package lablink_test

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// FuzzParseConfig: no input makes ParseConfig panic; parsing is
// deterministic (the same bytes give the same Config, warnings and
// errors); YAML that does not parse is one *SyntaxError; and every
// problem in a well-formed YAML document is a *FieldError naming a path.
func FuzzParseConfig(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yaml")
	require.NoError(f, err)
	for _, seed := range []string{
		string(full),
		"",
		"machine:\n  machine_type: g5.xlarge\n",
		"machine: [\n",
		"db:\n  port: \"5432\"\n",
		"app:\n  region: us-west-2\n  region: us-east-1\n",
		"dns:\n  enabled: true\n",
		"ssl:\n  provider: none\nmonitoring:\n  process_allowlist: [a, *x]\n",
		"monitoring:\n  budget:\n    enabled: true\n",
		"manual:\n  participant_exposure: tailscale_funnel\n",
		"startup_script:\n  success_check: \"$(id)\\n`x`\"\n",
		"machine:\n  software: &a x\n  extension: *a\n",
		"unknown: 1\n",
		"ssl: !!binary aGVsbG8=\n",
		"machine:\n\tsoftware: x\n",
		"machine:\n  software: a: b\n",
		"machine:\n  software: \"x\n",
		"machine:\n  software: *nope\n",
		"a: &x [*x]\nmonitoring:\n  process_allowlist: &y [*y]\n",
		"ssl:\n  provider: none\n---\nmachine: {}\n",
		"machine:\n  software: !!str\n",
		"db:\n  port: 99999999999999999999\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, warns, err := lablink.ParseConfig(data)
		again, warnsAgain, errAgain := lablink.ParseConfig(data)
		require.Equal(t, cfg, again, "second parse: config differs")
		require.Equal(t, warns, warnsAgain, "second parse: warnings differ")
		if err == nil {
			require.NoError(t, errAgain, "second parse")
		} else {
			require.EqualError(t, errAgain, err.Error(), "second parse")
		}
		var se *lablink.SyntaxError
		if errors.As(err, &se) {
			require.Len(t, unjoin(err), 1, "a syntax error comes alone: %v", err)
			assert.ErrorIs(t, err, lablink.ErrSyntax)
			return
		}
		for _, e := range unjoin(err) {
			var fe *lablink.FieldError
			require.ErrorAs(t, e, &fe, "neither a syntax nor a field error: %v", e)
			assert.NotEmpty(t, fe.Path, "field error without a path: %v", e)
		}
		for _, w := range warns {
			assert.NotEmpty(t, w.Path, "incomplete warning %+v", w)
			assert.NotZero(t, w.Line, "incomplete warning %+v", w)
			assert.NotEmpty(t, w.Release, "incomplete warning %+v", w)
		}
	})
}
