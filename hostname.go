package lablink

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidHostname is the condition behind every error of NormalizeHost.
var ErrInvalidHostname = errors.New("invalid host name")

// NormalizeHost applies the upstream sanitization of a DNS name and checks
// what is left: leading and trailing dots are stripped, the name is
// lowercased, and every label must be an RFC 1123 host label (letters,
// digits and inner hyphens, 1 to 63 characters). An empty label inside the
// name ("a..b") is an error, as is a name longer than 253 characters. An
// empty result is returned as "" without error; callers decide whether a
// name is required.
func NormalizeHost(name string) (string, error) {
	// Check for non-ASCII before lowercasing: strings.ToLower maps some
	// non-ASCII letters (the Kelvin sign) onto ASCII ones.
	for _, r := range name {
		if r > 0x7f {
			return "", fmt.Errorf("%w %q: non-ASCII character %q (use the xn-- form)", ErrInvalidHostname, name, r)
		}
	}
	host := strings.ToLower(strings.Trim(name, "."))
	if host == "" {
		return "", nil
	}
	if len(host) > 253 {
		return "", fmt.Errorf("%w %q: %d characters, more than 253; shorten it", ErrInvalidHostname, name, len(host))
	}
	for label := range strings.SplitSeq(host, ".") {
		if err := checkLabel(label); err != nil {
			return "", fmt.Errorf("%w %q: %v", ErrInvalidHostname, name, err)
		}
	}
	return host, nil
}

// checkLabel reports whether label (already lowercased) is an RFC 1123
// host label.
func checkLabel(label string) error {
	switch {
	case label == "":
		return errors.New("two dots in a row; remove one")
	case len(label) > 63:
		return fmt.Errorf("label %q has %d characters, more than 63; shorten it", label, len(label))
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen; remove it", label)
	}
	for _, c := range label {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("label %q holds %q; write only letters, digits and hyphens", label, c)
		}
	}
	return nil
}
