package allocurl

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lablink-go/lablink"
)

// parseOverride parses the ALLOCATOR_FQDN override. sslScheme is the
// scheme of the SSL rule, used when raw names none.
//
// Upstream used the value verbatim and prepended "http://" when it had no
// scheme, so "https://x/path" or "HTTPS://X" reached the client VMs as is.
// Here the value must be a bare origin: scheme, host and port only.
func parseOverride(raw, sslScheme string) (URL, error) {
	fail := func(reason error) (URL, error) {
		return URL{}, &InputError{
			Input: "ALLOCATOR_FQDN",
			Value: raw,
			Err:   fmt.Errorf("%w %q: %w", ErrInvalidFQDN, raw, reason),
		}
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return fail(errors.New("blank"))
	}

	scheme, rest := sslScheme, s
	// A "://" after a "/", "?" or "#" is part of a path, query or
	// fragment, which is refused below with a better message.
	if i := strings.Index(s, "://"); i >= 0 && !strings.ContainsAny(s[:i], "/?#") {
		scheme, rest = asciiLower(s[:i]), s[i+len("://"):]
		if scheme != "http" && scheme != "https" {
			return fail(fmt.Errorf("scheme %q not allowed; want http or https", s[:i]))
		}
	}

	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	switch {
	case strings.Contains(tail, "#"):
		return fail(errors.New("fragment not allowed"))
	case strings.Contains(tail, "?"):
		return fail(errors.New("query not allowed"))
	case tail != "" && tail != "/": // one trailing "/" is dropped
		return fail(errors.New("path not allowed"))
	case strings.Contains(authority, "@"):
		return fail(errors.New("user info not allowed"))
	}

	host, port, hasPort, err := splitHostPort(authority)
	if err != nil {
		return fail(err)
	}
	u := URL{Scheme: scheme, Host: host, Port: defaultPort(scheme)}
	if hasPort {
		if u.Port, err = parsePort(port); err != nil {
			return fail(err)
		}
	}
	return u, nil
}

// splitHostPort splits an authority without user info into a checked,
// normalized host and the text of its port, if any. An IPv6 host must be
// bracketed, an IPv4 host is kept in canonical form, and anything else
// must pass lablink.NormalizeHost and checkNotNumeric.
func splitHostPort(a string) (host, port string, hasPort bool, err error) {
	if rest, ok := strings.CutPrefix(a, "["); ok {
		inner, after, ok := strings.Cut(rest, "]")
		if !ok {
			return "", "", false, errors.New(`missing "]" after IPv6 address`)
		}
		if after != "" {
			if after[0] != ':' {
				return "", "", false, fmt.Errorf("unexpected %q after IPv6 address", after)
			}
			port, hasPort = after[1:], true
		}
		addr, err := netip.ParseAddr(inner)
		switch {
		case err != nil || !addr.Is6():
			return "", "", false, fmt.Errorf("%q in brackets is not an IPv6 address", inner)
		case addr.Zone() != "":
			return "", "", false, fmt.Errorf("IPv6 zone not allowed in %q", inner)
		}
		return addr.String(), port, hasPort, nil
	}

	if strings.Count(a, ":") > 1 {
		return "", "", false, errors.New("an IPv6 address must be in brackets")
	}
	if i := strings.LastIndexByte(a, ':'); i >= 0 {
		a, port, hasPort = a[:i], a[i+1:], true
	}
	// a holds no ":" now, so only IPv4 can parse, and never with a zone.
	if addr, err := netip.ParseAddr(a); err == nil {
		return addr.String(), port, hasPort, nil
	}
	host, err = lablink.NormalizeHost(a)
	if err != nil {
		return "", "", false, err
	}
	if host == "" {
		return "", "", false, errors.New("no host")
	}
	if err := checkNotNumeric(host); err != nil {
		return "", "", false, err
	}
	return host, port, hasPort, nil
}

// parsePort parses an explicit port: decimal digits only (no sign, no
// space), 1 to 65535.
func parsePort(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty port")
	}
	if len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	n, _ := strconv.Atoi(s) // at most 5 digits, cannot fail
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", n)
	}
	return n, nil
}

// asciiLower lowercases ASCII letters only. strings.ToLower and
// strings.EqualFold also fold some non-ASCII letters onto ASCII ones (the
// Kelvin sign onto "k", the long s onto "s"), which must not turn an
// odd scheme into "https".
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
