package lablink_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// withSecrets is a valid config holding two recognisable passwords.
func withSecrets() lablink.Config {
	c := valid()
	c.DB.Password = "db-hunter2-db"
	c.App.AdminPassword = "admin-hunter2-admin"
	return c
}

// TestSecretNeverPrinted: every usual way of printing or logging a config
// shows "[redacted]" where a password is, and never the password.
func TestSecretNeverPrinted(t *testing.T) {
	c := withSecrets()
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	logged := func(h func(*bytes.Buffer) slog.Handler, args ...any) string {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("cfg", args...)
		return buf.String()
	}
	text := func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }
	jsonh := func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }
	routes := map[string]string{
		"%v":                      fmt.Sprintf("%v", c),
		"%+v":                     fmt.Sprintf("%+v", c),
		"%#v":                     fmt.Sprintf("%#v", c),
		"%v of a pointer":         fmt.Sprintf("%+v", &c),
		"%v of the section":       fmt.Sprintf("%+v", c.App),
		"%q of the secret":        fmt.Sprintf("%q", c.App.AdminPassword),
		"%x of the secret":        fmt.Sprintf("%x", c.App.AdminPassword),
		"%d of the secret":        fmt.Sprintf("%d", c.App.AdminPassword),
		"%10s of the secret":      fmt.Sprintf("%10s", c.App.AdminPassword),
		"Sprint":                  fmt.Sprint(c),
		"Println":                 fmt.Sprintln(c.DB, c.App.AdminPassword),
		"json.Marshal":            jsonOf(c),
		"json.Marshal of pointer": jsonOf(&c),
		"json of the section":     jsonOf(c.DB),
		"slog text, bad key":      logged(text, c),
		"slog text, attr":         logged(text, "cfg", c),
		"slog text, secret":       logged(text, "pw", c.App.AdminPassword),
		"slog json, attr":         logged(jsonh, "cfg", c),
		"slog json, secret":       logged(jsonh, "pw", c.DB.Password),
		"slog group":              logged(text, slog.Group("g", "db", c.DB)),
	}
	for name, out := range routes {
		t.Run(name, func(t *testing.T) {
			assert.NotContains(t, out, "hunter2", "printed: %s", out)
			if !strings.HasPrefix(name, "%x") {
				assert.Contains(t, out, lablink.Redacted, "printed: %s", out)
			}
		})
	}
	assert.Equal(t, `lablink.Secret("[redacted]")`, fmt.Sprintf("%#v", c.DB.Password))
	assert.Equal(t, `"[redacted]"`, fmt.Sprintf("%q", c.DB.Password))
	assert.Equal(t, "%!d(string=[redacted])", fmt.Sprintf("%d", c.DB.Password))
	assert.Equal(t, "db-hunter2-db", c.DB.Password.Reveal())
}

// TestSecretEmpty: an empty secret prints as nothing; being unset is no
// secret.
func TestSecretEmpty(t *testing.T) {
	var s lablink.Secret
	assert.Equal(t, "", s.String())
	assert.Equal(t, `""`, fmt.Sprintf("%q", s))
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Equal(t, `""`, string(b))
}

// TestSecretYAML: YAML, the config file's own format, keeps the value, so
// that a config written out loads back with its passwords.
func TestSecretYAML(t *testing.T) {
	c := withSecrets()
	out, err := yaml.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(out), "admin-hunter2-admin")
	back, _, err := lablink.ParseConfig(out)
	require.NoError(t, err)
	assert.Equal(t, c.App.AdminPassword.Reveal(), back.App.AdminPassword.Reveal())
	assert.Equal(t, c.DB.Password.Reveal(), back.DB.Password.Reveal())
}

// TestDigest: the digest leaves the secrets out, is the launcher's former
// configDigest byte for byte (sha256 of the JSON with passwords blanked),
// and changes with any other value.
func TestDigest(t *testing.T) {
	c := withSecrets()
	d := c.Digest()
	require.True(t, strings.HasPrefix(d, "sha256:"), d)
	assert.Len(t, d, len("sha256:")+64)

	blank := c
	blank.DB.Password, blank.App.AdminPassword = "", ""
	b, err := json.Marshal(blank)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), d, "the launcher's formula")
	assert.NotContains(t, string(b), "hunter2")

	other := c
	other.App.AdminPassword = "another-password"
	assert.Equal(t, d, other.Digest(), "secrets are left out")
	assert.Equal(t, d, c.Digest(), "stable")
	assert.Equal(t, "admin-hunter2-admin", c.App.AdminPassword.Reveal(), "Digest leaves its receiver alone")

	for name, edit := range map[string]func(*lablink.Config){
		"a string":   func(c *lablink.Config) { c.Machine.MachineType = "g5.xlarge" },
		"an int":     func(c *lablink.Config) { c.StartupScript.MaxAttempts++ },
		"a bool":     func(c *lablink.Config) { c.DNS.Enabled = true },
		"a list":     func(c *lablink.Config) { c.Monitoring.ProcessAllowlist = nil },
		"a user":     func(c *lablink.Config) { c.App.AdminUser = "root" },
		"deprecated": func(c *lablink.Config) { c.DNS.Pattern = "auto" },
	} {
		changed := c
		edit(&changed)
		assert.NotEqual(t, d, changed.Digest(), name)
	}
	// Pinned, so that it is the same in every process and run; a new
	// field changes it on purpose (update the pin then).
	assert.Equal(t, "sha256:a619a54ed7ecc68c8b45b7c1c00d6fa3cbfcd687a0021d6820a0e0897e2d1a75", lablink.DefaultConfig().Digest())
}
