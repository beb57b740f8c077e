package lablink

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Secret is a credential of config.yaml: db.password and
// app.admin_password. Printing, logging or encoding a Secret, or a Config
// or section that holds one, shows "[redacted]" in its place: fmt's verbs
// (%v, %+v, %#v, %s, %q, %x and any other), log/slog (LogValue) and
// encoding/json (MarshalJSON). Reveal returns the value, for the one place
// that needs it, such as checking a password.
//
// An empty Secret prints as "" (that nothing is set is no secret). A
// Secret is a string underneath, so loading fills it like any string and
// reflection sees the value. YAML is the config file's own format, so a
// YAML encoder writes the value: encoding a Config to YAML writes a config
// file, passwords included, and its output is as secret as the file. JSON
// round trips lose the secrets, by design.
type Secret string

// Redacted is what a non-empty Secret prints as.
const Redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns Redacted, or "" for an empty Secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString is what %#v prints: a Go expression of the redacted text.
func (s Secret) GoString() string { return fmt.Sprintf("lablink.Secret(%q)", s.String()) }

// Format prints String for every verb but %#v, which prints GoString. A
// named string type without it would print its value for verbs that do
// not call String, such as %d ("%!d(lablink.Secret=...)").
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString()) // fmt.State collects errors itself
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// LogValue makes log/slog print String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes String.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Digest returns "sha256:" and the hex SHA-256 of the config's canonical
// encoding with its secrets left out: its JSON (encoding/json, fields in
// declaration order, no maps) with db.password and app.admin_password
// empty. It names a config in an audit trail without holding a hash of a
// password; two configs that differ only in their secrets have the same
// digest. It is stable across runs and processes, and changes when a
// value changes or Config gains a field.
//
// It is the digest the launcher recorded before it moved here, byte for
// byte, so records made before and after compare equal.
func (c Config) Digest() string {
	c.DB.Password, c.App.AdminPassword = "", ""
	b, err := json.Marshal(c)
	if err != nil {
		// Config holds strings, ints, bools and string lists only, which
		// always marshal (TestDigest holds this); should a field ever
		// break that, no digest beats one that names nothing.
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
