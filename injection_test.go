package lablink_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/internal/injection"
)

// strictFields are the boot-script and DNS fields with a strict format.
var strictFields = map[string]bool{
	"machine.machine_type": true, "machine.image": true, "machine.ami_id": true,
	"machine.repository": true, "machine.software": true, "machine.extension": true,
	"app.region": true, "allocator.image_tag": true, "startup_script.on_error": true,
	"dns.domain": true, "dns.app_name": true, "dns.custom_subdomain": true,
	"dns.pattern": true, "bucket_name": true, "ssl.provider": true, "eip.strategy": true,
	"deployment_name": true, "provider": true, "manual.connectivity": true,
	"manual.participant_exposure": true,
}

// safeChars are the only characters a strict-format field may hold: none
// of them is special to the shell inside double quotes, to an env file, to
// HCL or to OpenTofu's templates.
const safeChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~:/@%+=-"

// TestInjectionCorpus puts every hostile value of testdata/injection.json
// into every string field of config.yaml. Each value arrives in Config
// exactly as written, and Validate either accepts it or rejects it with an
// error naming that field and no other. What a strict-format field accepts
// (a plain word such as "EOF" or "true" may pass) holds only safeChars.
// That accepted values reach the VM byte-identical is the launcher's
// injection test.
func TestInjectionCorpus(t *testing.T) {
	corpus, err := injection.Corpus()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(corpus), 200, "values in the corpus")
	fields := injection.StringFields()
	require.GreaterOrEqual(t, len(fields), 25, "string fields found; fewer means the reflection walk is broken")
	for f := range strictFields {
		assert.Contains(t, fields, f, "strict field %s is not a string field of Config", f)
	}
	for _, path := range fields {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			tmpl, err := injection.NewTemplate(valid(), path)
			require.NoError(t, err)
			accepted := 0
			for _, v := range corpus {
				cfg, _, err := lablink.ParseConfig(tmpl.With(v))
				got, _ := injection.Field(cfg, path)
				require.Equal(t, v, got, "%s = %q arrived changed (%v)", path, v, err)
				if err == nil {
					accepted++
					if strictFields[path] {
						assert.Empty(t, unsafeChars(v), "%s accepts %q", path, v)
					}
					continue
				}
				for _, e := range unjoin(err) {
					var fe *lablink.FieldError
					if assert.ErrorAs(t, e, &fe, "%s = %q", path, v) {
						assert.Equal(t, path, fe.Path, "%s = %q: error %q names another field", path, v, e)
					}
					assert.ErrorIs(t, e, lablink.ErrInvalidValue, "%s = %q", path, v)
				}
			}
			t.Logf("accepted %d of %d", accepted, len(corpus))
		})
	}
}

// unsafeChars returns the characters of s that are not safeChars.
func unsafeChars(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(safeChars, r) {
			return -1
		}
		return r
	}, s)
}
