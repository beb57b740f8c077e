package allocurl

import (
	"errors"
	"net/url"
	"strconv"
	"testing"

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
			if !errors.As(err, &ie) {
				t.Fatalf("error %q (%T) is not an *InputError", err, err)
			}
			known := false
			for _, target := range []error{ErrNoHost, ErrInvalidFQDN, ErrInvalidIP, ErrUnknownProvider, ErrUnknownPattern, lablink.ErrInvalidHostname} {
				known = known || errors.Is(err, target)
			}
			if !known {
				t.Fatalf("error %q matches no known condition", err)
			}
			return
		}

		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("Scheme = %q", u.Scheme)
		}
		if u.Port < 1 || u.Port > 65535 {
			t.Fatalf("Port = %d", u.Port)
		}
		s := u.String()
		for _, c := range s {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == ':' || c == '/' || c == '[' || c == ']' || c == '-') {
				t.Fatalf("String() = %q holds %q", s, c)
			}
		}

		p, err := url.Parse(s)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", s, err)
		}
		if p.Scheme != u.Scheme || p.Hostname() != u.Host || p.User != nil || p.Opaque != "" ||
			p.Path != "" || p.RawQuery != "" || p.Fragment != "" {
			t.Fatalf("url.Parse(%q) = %#v, want scheme %q and host %q only", s, p, u.Scheme, u.Host)
		}
		port := defaultPort(u.Scheme)
		if p.Port() != "" {
			if port, err = strconv.Atoi(p.Port()); err != nil {
				t.Fatalf("url.Parse(%q).Port() = %q", s, p.Port())
			}
		}
		if port != u.Port {
			t.Fatalf("url.Parse(%q) gives port %d, want %d", s, port, u.Port)
		}

		again, err := Derive(cfg, Input{FQDN: s})
		if err != nil {
			t.Fatalf("Derive with FQDN %q: %v", s, err)
		}
		if again != u {
			t.Fatalf("Derive with FQDN %q = %#v, want %#v", s, again, u)
		}
	})
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
