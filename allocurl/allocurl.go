package allocurl

//lint:file-ignore SA1019 the host name of a file that sets the keys upstream removed (dns.pattern and its labels, ssl.staging) is built as it was: lablink loads every release's file

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lablink-go/lablink"
)

// Input holds what Derive needs besides the config. Each field is named
// after the upstream environment variable it comes from, and errors name
// it the same way; Derive itself reads no environment.
type Input struct {
	// AllocatorIP is the allocator's public IP (upstream
	// ALLOCATOR_PUBLIC_IP), IPv4 or IPv6 without zone or brackets.
	// Surrounding whitespace is ignored. It is used, and therefore
	// checked, only when neither FQDN nor DNS gives a host name.
	AllocatorIP string
	// Environment is the deployment environment (upstream ENVIRONMENT),
	// normalized by lablink.NormalizeEnvironment; "" means "prod". It matters only
	// for dns.pattern "auto".
	Environment string
	// FQDN overrides the host (upstream ALLOCATOR_FQDN): a host name or
	// IP literal, optionally with an http or https scheme, a port and one
	// trailing "/". "" means no override; a value that is blank after
	// trimming whitespace is an error, because a set-but-blank variable is
	// more likely a deployment mistake than a wish for the default.
	FQDN string
}

// URL is the allocator's public URL, split the way OpenTofu receives it.
// The zero URL is not a valid result; its String is "".
type URL struct {
	// Scheme is "http" or "https".
	Scheme string
	// Host is a lowercase host name or an IP address in canonical form,
	// never bracketed.
	Host string
	// Port is the explicit port of the override, else 443 for https and
	// 80 for http. It is passed to OpenTofu as allocator_port.
	Port int
}

// String returns scheme://host[:port]. The port is left out when it is
// the scheme's default (443 for https, 80 for http) or 0, and an IPv6
// host is bracketed, so "http://[2001:db8::1]" and "https://x.org:8443".
// It returns "" for the zero URL.
func (u URL) String() string {
	if u == (URL{}) {
		return ""
	}
	var b strings.Builder
	b.Grow(len(u.Scheme) + len(u.Host) + 11)
	b.WriteString(u.Scheme)
	b.WriteString("://")
	if strings.IndexByte(u.Host, ':') >= 0 {
		b.WriteByte('[')
		b.WriteString(u.Host)
		b.WriteByte(']')
	} else {
		b.WriteString(u.Host)
	}
	if u.Port != 0 && u.Port != defaultPort(u.Scheme) {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.Port))
	}
	return b.String()
}

// defaultPort returns the port a URL of scheme uses when it names none,
// or 0 for a scheme this package does not produce.
func defaultPort(scheme string) int {
	switch scheme {
	case "https":
		return 443
	case "http":
		return 80
	}
	return 0
}

// Scheme returns the URL scheme the SSL settings call for: "http" when
// ssl.Provider is "none" or ssl.Staging is true (a staging certificate is
// not trusted, so clients must not use TLS), and "https" for
// "letsencrypt", "cloudflare", "acm" and "self_signed". Provider names are
// matched exactly, as lablink's Validate does. An unknown provider gives
// "" whatever Staging says; Derive reports it as ErrUnknownProvider.
func Scheme(ssl lablink.SSL) string {
	switch ssl.Provider {
	case "none":
		return "http"
	case "letsencrypt", "cloudflare", "acm", "self_signed":
		if ssl.Staging {
			return "http"
		}
		return "https"
	}
	return ""
}

// Derive returns the allocator's public URL. The host comes from, in
// order:
//
//  1. in.FQDN, when set (see Input.FQDN and ErrInvalidFQDN). An explicit
//     scheme wins over the SSL rule; without one the scheme is Scheme(cfg.SSL).
//  2. cfg.DNS, when Enabled and Domain is non-empty after sanitization,
//     by Pattern: "" uses Domain as the whole host name; "custom" prefixes
//     CustomSubdomain; "app-only" prefixes AppName; "auto" prefixes AppName
//     in environment "prod" and "{env}.{AppName}" elsewhere. Each part has
//     its leading and trailing dots stripped and empty parts are skipped,
//     then each part and the joined name must pass lablink.NormalizeHost,
//     and the last label must not be a number (RFC 1123 §2.1), since
//     WHATWG URL parsers read "010.0.0.1" as the IPv4 address 8.0.0.1.
//  3. in.AllocatorIP.
//
// DNS enabled with an empty Domain falls back to the IP, as upstream's
// URL derivation did; lablink's Validate rejects such a config, as
// upstream's validate_config does ("dns.enabled needs a domain" in
// docs/upstream.md).
//
// cfg.SSL.Provider is always checked, even when the override names its
// scheme; the other inputs are checked only when they are used, so a bad
// dns.pattern does not matter while an override is set. Every error is an
// *InputError naming the input; see the Err variables for the conditions.
func Derive(cfg lablink.Config, in Input) (URL, error) {
	scheme := Scheme(cfg.SSL)
	if scheme == "" {
		return URL{}, &InputError{
			Input: "ssl.provider",
			Value: cfg.SSL.Provider,
			Err: fmt.Errorf("%w %q; want none, letsencrypt, cloudflare, acm or self_signed",
				ErrUnknownProvider, cfg.SSL.Provider),
		}
	}
	if in.FQDN != "" {
		return parseOverride(in.FQDN, scheme)
	}
	if cfg.DNS.Enabled {
		host, err := dnsHost(cfg.DNS, in.Environment)
		if err != nil {
			return URL{}, err
		}
		if host != "" {
			return URL{Scheme: scheme, Host: host, Port: defaultPort(scheme)}, nil
		}
	}
	ip := strings.TrimSpace(in.AllocatorIP)
	if ip == "" {
		return URL{}, &InputError{
			Input: "ALLOCATOR_PUBLIC_IP",
			Value: in.AllocatorIP,
			Err:   fmt.Errorf("%w: no IP, no ALLOCATOR_FQDN and no DNS name (dns.enabled with dns.domain)", ErrNoHost),
		}
	}
	addr, err := parseIP(ip)
	if err != nil {
		return URL{}, &InputError{Input: "ALLOCATOR_PUBLIC_IP", Value: in.AllocatorIP, Err: err}
	}
	return URL{Scheme: scheme, Host: addr.String(), Port: defaultPort(scheme)}, nil
}

// parseIP parses an IP address for use as a URL host. Zones are refused:
// "fe80::1%eth0" names an interface of the machine that parses it, which
// means nothing to a client VM.
func parseIP(s string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %w", ErrInvalidIP, err)
	}
	if addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w %q: IPv6 zone not allowed", ErrInvalidIP, s)
	}
	return addr, nil
}

// part is one piece of a DNS name and the input it came from.
type part struct{ input, value string }

// dnsHost joins the DNS name for dns.pattern. It returns "" without error
// when the domain is empty after sanitization.
func dnsHost(dns lablink.DNS, env string) (string, error) {
	domain, err := lablink.NormalizeHost(dns.Domain)
	if err != nil {
		return "", &InputError{Input: "dns.domain", Value: dns.Domain, Err: err}
	}
	if domain == "" {
		return "", nil
	}
	// The domain supplies the last label of every pattern.
	if err := checkNotNumeric(domain); err != nil {
		return "", &InputError{Input: "dns.domain", Value: dns.Domain, Err: err}
	}
	parts, err := patternParts(dns, env)
	if err != nil {
		return "", err
	}
	if len(parts) == 0 {
		return domain, nil
	}
	return joinParts(parts, domain, env)
}

// patternParts returns the parts dns.pattern puts before the domain,
// outermost first.
func patternParts(dns lablink.DNS, env string) ([]part, error) {
	switch dns.Pattern {
	case "":
		return nil, nil
	case "custom":
		return []part{{"dns.custom_subdomain", dns.CustomSubdomain}}, nil
	case "app-only":
		return []part{{"dns.app_name", dns.AppName}}, nil
	case "auto":
		if e := lablink.NormalizeEnvironment(env); e != "prod" {
			return []part{{"ENVIRONMENT", e}, {"dns.app_name", dns.AppName}}, nil
		}
		return []part{{"dns.app_name", dns.AppName}}, nil
	}
	return nil, &InputError{
		Input: "dns.pattern",
		Value: dns.Pattern,
		Err:   fmt.Errorf(`%w %q; want "", auto, app-only or custom`, ErrUnknownPattern, dns.Pattern),
	}
}

// joinParts joins parts and the normalized domain into one host name. Each
// part is checked on its own so that the error names the input at fault;
// trimming the dots of each part drops the empty labels at the joins, so a
// subdomain ".dev" works as upstream's did. env is the raw environment,
// which an error about ENVIRONMENT reports.
func joinParts(parts []part, domain, env string) (string, error) {
	labels := make([]string, 0, len(parts)+1)
	inputs := make([]string, 0, len(parts)+1)
	for _, p := range parts {
		h, err := lablink.NormalizeHost(p.value)
		if err != nil {
			if p.input == "ENVIRONMENT" {
				p.value = env
			}
			return "", &InputError{Input: p.input, Value: p.value, Err: err}
		}
		if h != "" {
			labels = append(labels, h)
			inputs = append(inputs, p.input)
		}
	}
	labels = append(labels, domain)
	inputs = append(inputs, "dns.domain")
	joined := strings.Join(labels, ".")
	// Every part is valid, so only the total length can fail here.
	host, err := lablink.NormalizeHost(joined)
	if err != nil {
		return "", &InputError{
			Input: strings.Join(inputs, "+"),
			Value: joined,
			Err:   fmt.Errorf("joined name %q: %w", joined, err),
		}
	}
	return host, nil
}

// checkNotNumeric rejects a host name (already normalized) whose last
// label is a number, decimal or 0x-hex. RFC 1123 §2.1 keeps the top label
// alphabetic so that names never look like addresses, and URL parsers
// that follow the WHATWG rules read such a name as an IPv4 address:
// "010.0.0.1" becomes 8.0.0.1 there. A real IPv4 literal never reaches
// this check.
func checkNotNumeric(host string) error {
	last := host[strings.LastIndexByte(host, '.')+1:]
	numeric := strings.Trim(last, "0123456789") == ""
	if hex, ok := strings.CutPrefix(last, "0x"); ok {
		numeric = strings.Trim(hex, "0123456789abcdef") == ""
	}
	if numeric {
		return fmt.Errorf("%w %q: last label %q is a number, which reads as an IPv4 address",
			lablink.ErrInvalidHostname, host, last)
	}
	return nil
}
