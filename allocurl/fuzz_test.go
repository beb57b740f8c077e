package allocurl

//lint:file-ignore SA1019 the fuzz target covers the removed keys, which still build host names

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

var (
	fuzzPatterns  = []string{"", "custom", "app-only", "auto", "bogus"}
	fuzzProviders = []string{"none", "letsencrypt", "cloudflare", "acm", "self_signed", "bogus"}
)

// FuzzDerive checks that Derive never panics, that every error is an
// *InputError with a known condition, and that every URL it returns
// survives net/url unchanged, holds only the characters a URL host and
// scheme need, and derives to itself when fed back as the override.
func FuzzDerive(f *testing.F) {
	for _, tc := range deriveCases {
		ip := tc.ip
		switch ip {
		case "":
			ip = "1.2.3.4"
		case "-":
			ip = ""
		}
		f.Add(tc.fqdn, tc.env, tc.dns.Domain, tc.dns.CustomSubdomain, ip, uint8(index(fuzzPatterns, tc.dns.Pattern)),
			uint8(index(fuzzProviders, tc.ssl.Provider)), tc.ssl.Staging, tc.dns.Enabled)
	}
	f.Fuzz(func(t *testing.T, fqdn, env, domain, sub, ip string, pattern, provider uint8, staging, enabled bool) {
		cfg := lablink.DefaultConfig()
		cfg.SSL.Provider = fuzzProviders[int(provider)%len(fuzzProviders)]
		cfg.SSL.Staging = staging
		cfg.DNS.Enabled = enabled
		cfg.DNS.Pattern = fuzzPatterns[int(pattern)%len(fuzzPatterns)]
		cfg.DNS.Domain = domain
		cfg.DNS.CustomSubdomain = sub
		in := Input{AllocatorIP: ip, Environment: env, FQDN: fqdn}

		u, err := Derive(cfg, in)
		if err != nil {
			var ie *InputError
			require.ErrorAs(t, err, &ie, "error is not an *InputError")
			known := false
			for _, target := range []error{ErrNoHost, ErrInvalidFQDN, ErrInvalidIP, ErrUnknownProvider, ErrUnknownPattern, lablink.ErrInvalidHostname} {
				known = known || errors.Is(err, target)
			}
			require.True(t, known, "error %q matches no known condition", err)
			return
		}

		require.Contains(t, []string{"http", "https"}, u.Scheme, "Scheme")
		require.GreaterOrEqual(t, u.Port, 1, "Port")
		require.LessOrEqual(t, u.Port, 65535, "Port")
		s := u.String()
		require.Empty(t, foreignChars(s), "String() = %q holds characters a URL scheme and host do not need", s)

		p, err := url.Parse(s)
		require.NoError(t, err, "url.Parse(%q)", s)
		type parts struct {
			Scheme, Host                     string
			User                             *url.Userinfo
			Opaque, Path, RawQuery, Fragment string
		}
		require.Equal(t, parts{Scheme: u.Scheme, Host: u.Host},
			parts{p.Scheme, p.Hostname(), p.User, p.Opaque, p.Path, p.RawQuery, p.Fragment},
			"url.Parse(%q) must give the scheme and host only", s)
		port := defaultPort(u.Scheme)
		if p.Port() != "" {
			port, err = strconv.Atoi(p.Port())
			require.NoError(t, err, "url.Parse(%q).Port() = %q", s, p.Port())
		}
		require.Equal(t, u.Port, port, "port of url.Parse(%q)", s)

		again, err := Derive(cfg, Input{FQDN: s})
		require.NoError(t, err, "Derive with FQDN %q", s)
		require.Equal(t, u, again, "Derive with FQDN %q", s)
	})
}

// foreignChars returns the characters of s that a lowercase URL of scheme,
// host and port does not need.
func foreignChars(s string) string {
	return strings.Map(func(c rune) rune {
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == ':' || c == '/' || c == '[' || c == ']' || c == '-' {
			return -1
		}
		return c
	}, s)
}

// index returns the position of s in list, or len(list) when absent.
func index(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return len(list)
}
