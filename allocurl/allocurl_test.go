package allocurl

//lint:file-ignore SA1019 the tests cover the host names the removed keys still build

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// ssl returns SSL settings for provider, optionally staging.
func ssl(provider string, staging bool) lablink.SSL {
	return lablink.SSL{Provider: provider, Staging: staging}
}

// dnsOn returns the default DNS section (app_name "lablink") enabled with
// pattern and domain.
func dnsOn(pattern, domain string) lablink.DNS {
	d := lablink.DefaultConfig().DNS
	d.Enabled, d.Pattern, d.Domain = true, pattern, domain
	return d
}

// custom returns an enabled "custom" DNS section.
func custom(sub, domain string) lablink.DNS {
	d := dnsOn("custom", domain)
	d.CustomSubdomain = sub
	return d
}

// with returns d after edit.
func with(d lablink.DNS, edit func(*lablink.DNS)) lablink.DNS {
	edit(&d)
	return d
}

var (
	letsencrypt = ssl("letsencrypt", false)
	none        = ssl("none", false)
	noDNS       = lablink.DefaultConfig().DNS
)

type deriveCase struct {
	name string
	ssl  lablink.SSL
	dns  lablink.DNS
	ip   string // allocator IP; "" means 1.2.3.4, "-" means none
	env  string
	fqdn string

	want string // URL.String()
	port int    // URL.Port; 0 means the scheme default
	host string // URL.Host; "" means the host of want

	wantIs    []error // for a failure: conditions errors.Is must see
	wantInput string  // for a failure: InputError.Input
}

var deriveCases = []deriveCase{
	// Rows from upstream's own tests.
	{name: "upstream/letsencrypt custom prod", ssl: letsencrypt, dns: custom("prod", "example.com"), want: "https://prod.example.com"},
	{name: "upstream/letsencrypt staging custom test", ssl: ssl("letsencrypt", true), dns: custom("test", "example.com"), want: "http://test.example.com"},
	{name: "upstream/none custom test", ssl: none, dns: custom("test", "example.com"), want: "http://test.example.com"},
	{name: "upstream/none dns disabled uses IP", ssl: none, dns: noDNS, ip: "52.40.142.146", want: "http://52.40.142.146"},
	{name: "upstream/cloudflare domain is the host", ssl: ssl("cloudflare", false), dns: dnsOn("", "prod.example.com"), want: "https://prod.example.com"},
	{name: "upstream/acm domain is the host", ssl: ssl("acm", false), dns: dnsOn("", "prod.example.com"), want: "https://prod.example.com"},
	{name: "upstream/none domain is the host", ssl: none, dns: dnsOn("", "dev.lablink.example.com"), want: "http://dev.lablink.example.com"},
	{name: "upstream/override https", ssl: letsencrypt, dns: noDNS, fqdn: "https://prod.lablink.sleap.ai", want: "https://prod.lablink.sleap.ai"},
	{name: "upstream/override http wins over letsencrypt", ssl: letsencrypt, dns: noDNS, fqdn: "http://test.lablink.sleap.ai", want: "http://test.lablink.sleap.ai"},
	{name: "upstream/none custom empty sub dotted domain", ssl: none, dns: custom("", ".lablink.sleap.ai"), want: "http://lablink.sleap.ai"},
	{name: "upstream/none custom sub .dev", ssl: none, dns: custom(".dev", "example.com"), want: "http://dev.example.com"},

	// Scheme.
	{name: "scheme/self_signed is https", ssl: ssl("self_signed", false), dns: noDNS, want: "https://1.2.3.4"},
	{name: "scheme/staging acm is http", ssl: ssl("acm", true), dns: noDNS, want: "http://1.2.3.4"},
	{name: "scheme/staging none is http", ssl: ssl("none", true), dns: noDNS, want: "http://1.2.3.4"},
	{name: "scheme/unknown provider", ssl: ssl("digicert", false), dns: noDNS, wantIs: []error{ErrUnknownProvider}, wantInput: "ssl.provider"},
	{name: "scheme/unknown provider with staging is not guessed", ssl: ssl("digicert", true), dns: noDNS, wantIs: []error{ErrUnknownProvider}, wantInput: "ssl.provider"},
	{name: "scheme/empty provider", ssl: ssl("", false), dns: noDNS, wantIs: []error{ErrUnknownProvider}, wantInput: "ssl.provider"},
	{name: "scheme/provider case matters", ssl: ssl("LetsEncrypt", false), dns: noDNS, wantIs: []error{ErrUnknownProvider}, wantInput: "ssl.provider"},
	{name: "scheme/unknown provider with explicit override scheme", ssl: ssl("digicert", false), dns: noDNS, fqdn: "https://x.org", wantIs: []error{ErrUnknownProvider}, wantInput: "ssl.provider"},

	// DNS patterns.
	{name: "pattern/default ignores app name and subdomain", ssl: letsencrypt, dns: with(dnsOn("", "example.com"), func(d *lablink.DNS) { d.CustomSubdomain = "x" }), env: "dev", want: "https://example.com"},
	{name: "pattern/custom ignores app name and env", ssl: letsencrypt, dns: custom("api", "example.com"), env: "dev", want: "https://api.example.com"},
	{name: "pattern/custom empty sub", ssl: letsencrypt, dns: custom("", "example.com"), want: "https://example.com"},
	{name: "pattern/custom dots only sub", ssl: letsencrypt, dns: custom("..", "example.com"), want: "https://example.com"},
	{name: "pattern/custom multi-label sub", ssl: letsencrypt, dns: custom("a.b", "example.com"), want: "https://a.b.example.com"},
	{name: "pattern/app-only", ssl: letsencrypt, dns: dnsOn("app-only", "example.com"), want: "https://lablink.example.com"},
	{name: "pattern/app-only ignores env and subdomain", ssl: letsencrypt, dns: with(dnsOn("app-only", "example.com"), func(d *lablink.DNS) { d.CustomSubdomain = "x" }), env: "dev", want: "https://lablink.example.com"},
	{name: "pattern/app-only empty app name", ssl: letsencrypt, dns: with(dnsOn("app-only", "example.com"), func(d *lablink.DNS) { d.AppName = "" }), want: "https://example.com"},
	{name: "pattern/auto empty env is prod", ssl: letsencrypt, dns: dnsOn("auto", "example.com"), want: "https://lablink.example.com"},
	{name: "pattern/auto prod", ssl: letsencrypt, dns: dnsOn("auto", "example.com"), env: "prod", want: "https://lablink.example.com"},
	{name: "pattern/auto prod normalized", ssl: letsencrypt, dns: dnsOn("auto", "example.com"), env: "  PROD\n", want: "https://lablink.example.com"},
	{name: "pattern/auto staging", ssl: letsencrypt, dns: dnsOn("auto", "example.com"), env: "staging", want: "https://staging.lablink.example.com"},
	{name: "pattern/auto env normalized", ssl: letsencrypt, dns: dnsOn("auto", "example.com"), env: "  Staging Env ", want: "https://staging-env.lablink.example.com"},
	{name: "pattern/auto ignores custom subdomain", ssl: letsencrypt, dns: with(dnsOn("auto", "example.com"), func(d *lablink.DNS) { d.CustomSubdomain = "other" }), env: "dev", want: "https://dev.lablink.example.com"},
	{name: "pattern/auto empty app name", ssl: letsencrypt, dns: with(dnsOn("auto", "example.com"), func(d *lablink.DNS) { d.AppName = "" }), env: "dev", want: "https://dev.example.com"},
	{name: "pattern/unknown", ssl: letsencrypt, dns: dnsOn("Custom", "example.com"), wantIs: []error{ErrUnknownPattern}, wantInput: "dns.pattern"},
	{name: "pattern/unknown ignored when dns disabled", ssl: letsencrypt, dns: with(dnsOn("bogus", "example.com"), func(d *lablink.DNS) { d.Enabled = false }), want: "https://1.2.3.4"},
	{name: "pattern/unknown ignored under override", ssl: letsencrypt, dns: dnsOn("bogus", "example.com"), fqdn: "x.org", want: "https://x.org"},

	// DNS sanitization and checks.
	{name: "dns/domain lowercased", ssl: letsencrypt, dns: dnsOn("", "Example.COM"), want: "https://example.com"},
	{name: "dns/domain trailing dot stripped", ssl: letsencrypt, dns: dnsOn("", "example.com."), want: "https://example.com"},
	{name: "dns/empty labels at joins dropped", ssl: letsencrypt, dns: custom("dev.", ".example.com"), want: "https://dev.example.com"},
	{name: "dns/subdomain lowercased", ssl: letsencrypt, dns: custom("DEV", "example.com"), want: "https://dev.example.com"},
	{name: "dns/wins over IP", ssl: letsencrypt, dns: dnsOn("", "example.com"), ip: "5.6.7.8", want: "https://example.com"},
	{name: "dns/bad IP unused", ssl: letsencrypt, dns: dnsOn("", "example.com"), ip: "not-an-ip", want: "https://example.com"},
	{name: "dns/disabled ignores domain", ssl: letsencrypt, dns: with(dnsOn("", "example.com"), func(d *lablink.DNS) { d.Enabled = false }), want: "https://1.2.3.4"},
	{name: "dns/enabled empty domain falls back to IP", ssl: letsencrypt, dns: custom("dev", ""), want: "https://1.2.3.4"},
	{name: "dns/enabled dots-only domain falls back to IP", ssl: letsencrypt, dns: dnsOn("", "..."), want: "https://1.2.3.4"},
	{name: "dns/enabled empty domain and no IP", ssl: letsencrypt, dns: dnsOn("", ""), ip: "-", wantIs: []error{ErrNoHost}, wantInput: "ALLOCATOR_PUBLIC_IP"},
	{name: "dns/domain a..b", ssl: letsencrypt, dns: dnsOn("", "a..b"), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.domain"},
	{name: "dns/domain bad label", ssl: letsencrypt, dns: dnsOn("", "exa_mple.com"), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.domain"},
	{name: "dns/domain label ends in hyphen", ssl: letsencrypt, dns: dnsOn("", "example-.com"), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.domain"},
	{name: "dns/domain label too long", ssl: letsencrypt, dns: dnsOn("", strings.Repeat("a", 64)+".com"), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.domain"},
	{name: "dns/domain with scheme", ssl: letsencrypt, dns: dnsOn("", "https://example.com"), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.domain"},
	{name: "dns/subdomain a..b", ssl: letsencrypt, dns: custom("a..b", "example.com"), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.custom_subdomain"},
	{name: "dns/app name bad label", ssl: letsencrypt, dns: with(dnsOn("app-only", "example.com"), func(d *lablink.DNS) { d.AppName = "lab link" }), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.app_name"},
	{name: "dns/env bad label", ssl: letsencrypt, dns: dnsOn("auto", "example.com"), env: "dev_1", wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "ENVIRONMENT"},
	{name: "dns/env unused outside auto", ssl: letsencrypt, dns: dnsOn("app-only", "example.com"), env: "dev_1", want: "https://lablink.example.com"},
	{name: "dns/numeric first label", ssl: letsencrypt, dns: dnsOn("", "123.example.com"), want: "https://123.example.com"},
	{name: "dns/numeric last label", ssl: letsencrypt, dns: dnsOn("", "example.123"), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.domain"},
	{name: "dns/IP as domain", ssl: letsencrypt, dns: custom("dev", "1.2.3.4"), wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.domain"},
	{
		name: "dns/joined name too long", ssl: letsencrypt,
		dns:    dnsOn("app-only", strings.TrimSuffix(strings.Repeat(strings.Repeat("a", 62)+".", 4), ".")), // 251 characters
		wantIs: []error{lablink.ErrInvalidHostname}, wantInput: "dns.app_name+dns.domain",
	},

	// Allocator IP.
	{name: "ip/v4 https", ssl: letsencrypt, dns: noDNS, want: "https://1.2.3.4", port: 443},
	{name: "ip/v6 bracketed", ssl: none, dns: noDNS, ip: "2001:db8::1", want: "http://[2001:db8::1]", host: "2001:db8::1"},
	{name: "ip/v6 https", ssl: letsencrypt, dns: noDNS, ip: "2001:db8::1", want: "https://[2001:db8::1]", host: "2001:db8::1"},
	{name: "ip/v6 canonical form", ssl: none, dns: noDNS, ip: "2001:DB8:0:0:0:0:0:1", want: "http://[2001:db8::1]", host: "2001:db8::1"},
	{name: "ip/surrounding whitespace", ssl: none, dns: noDNS, ip: " 1.2.3.4\n", want: "http://1.2.3.4"},
	{name: "ip/none and no dns", ssl: none, dns: noDNS, ip: "-", wantIs: []error{ErrNoHost}, wantInput: "ALLOCATOR_PUBLIC_IP"},
	{name: "ip/blank and no dns", ssl: none, dns: noDNS, ip: " \t", wantIs: []error{ErrNoHost}, wantInput: "ALLOCATOR_PUBLIC_IP"},
	{name: "ip/too short", ssl: none, dns: noDNS, ip: "1.2.3", wantIs: []error{ErrInvalidIP}, wantInput: "ALLOCATOR_PUBLIC_IP"},
	{name: "ip/host name", ssl: none, dns: noDNS, ip: "example.com", wantIs: []error{ErrInvalidIP}, wantInput: "ALLOCATOR_PUBLIC_IP"},
	{name: "ip/v6 zone", ssl: none, dns: noDNS, ip: "fe80::1%eth0", wantIs: []error{ErrInvalidIP}, wantInput: "ALLOCATOR_PUBLIC_IP"},
	{name: "ip/v6 bracketed input", ssl: none, dns: noDNS, ip: "[2001:db8::1]", wantIs: []error{ErrInvalidIP}, wantInput: "ALLOCATOR_PUBLIC_IP"},
	{name: "ip/with port", ssl: none, dns: noDNS, ip: "1.2.3.4:80", wantIs: []error{ErrInvalidIP}, wantInput: "ALLOCATOR_PUBLIC_IP"},

	// Override (ALLOCATOR_FQDN).
	{name: "fqdn/wins over dns and IP", ssl: letsencrypt, dns: dnsOn("", "example.com"), fqdn: "https://x.org", want: "https://x.org"},
	{name: "fqdn/uppercase scheme and host", ssl: none, dns: noDNS, fqdn: "HTTPS://Prod.LabLink.Sleap.AI", want: "https://prod.lablink.sleap.ai"},
	{name: "fqdn/mixed-case http scheme", ssl: letsencrypt, dns: noDNS, fqdn: "Http://x.org", want: "http://x.org"},
	{name: "fqdn/no scheme letsencrypt", ssl: letsencrypt, dns: noDNS, fqdn: "x.org", want: "https://x.org"},
	{name: "fqdn/no scheme none", ssl: none, dns: noDNS, fqdn: "x.org", want: "http://x.org"},
	{name: "fqdn/no scheme staging", ssl: ssl("letsencrypt", true), dns: noDNS, fqdn: "x.org", want: "http://x.org"},
	{name: "fqdn/trailing slash dropped", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org/", want: "https://x.org"},
	{name: "fqdn/trailing dot stripped", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org.", want: "https://x.org"},
	{name: "fqdn/surrounding whitespace", ssl: letsencrypt, dns: noDNS, fqdn: "  https://x.org\n", want: "https://x.org"},
	{name: "fqdn/port kept", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org:8443", want: "https://x.org:8443", port: 8443},
	{name: "fqdn/port and trailing slash", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org:8443/", want: "https://x.org:8443", port: 8443},
	{name: "fqdn/port without scheme", ssl: letsencrypt, dns: noDNS, fqdn: "x.org:8443", want: "https://x.org:8443", port: 8443},
	{name: "fqdn/port 443 omitted for https", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org:443", want: "https://x.org", port: 443},
	{name: "fqdn/port 80 omitted for http", ssl: letsencrypt, dns: noDNS, fqdn: "http://x.org:80", want: "http://x.org", port: 80},
	{name: "fqdn/port 80 kept for https", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org:80", want: "https://x.org:80", port: 80},
	{name: "fqdn/port 443 kept for http", ssl: none, dns: noDNS, fqdn: "x.org:443", want: "http://x.org:443", port: 443},
	{name: "fqdn/port leading zero", ssl: letsencrypt, dns: noDNS, fqdn: "x.org:08443", want: "https://x.org:8443", port: 8443},
	{name: "fqdn/port 65535", ssl: letsencrypt, dns: noDNS, fqdn: "x.org:65535", want: "https://x.org:65535", port: 65535},
	{name: "fqdn/IPv4", ssl: none, dns: noDNS, fqdn: "http://10.0.0.1:8080", want: "http://10.0.0.1:8080", port: 8080},
	{name: "fqdn/IPv6", ssl: none, dns: noDNS, fqdn: "HTTPS://[2001:DB8::1]:8443/", want: "https://[2001:db8::1]:8443", host: "2001:db8::1", port: 8443},
	{name: "fqdn/IPv6 no port", ssl: none, dns: noDNS, fqdn: "[2001:db8::1]", want: "http://[2001:db8::1]", host: "2001:db8::1"},
	{name: "fqdn/path", ssl: letsencrypt, dns: noDNS, fqdn: "https://x/path", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/two trailing slashes", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org//", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/path without scheme", ssl: letsencrypt, dns: noDNS, fqdn: "x.org/api", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/scheme-relative", ssl: letsencrypt, dns: noDNS, fqdn: "//x.org", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/query", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org?a=b", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/query after slash", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org/?a", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/empty query", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org?", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/fragment", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org#top", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/user info", ssl: letsencrypt, dns: noDNS, fqdn: "https://user:pw@x.org", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/user info without scheme", ssl: letsencrypt, dns: noDNS, fqdn: "user@x.org", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/blank", ssl: letsencrypt, dns: noDNS, fqdn: "   ", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/blank does not fall back to dns", ssl: letsencrypt, dns: dnsOn("", "example.com"), fqdn: "\t", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/ftp scheme", ssl: letsencrypt, dns: noDNS, fqdn: "ftp://x.org", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/empty scheme", ssl: letsencrypt, dns: noDNS, fqdn: "://x.org", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/look-alike scheme", ssl: letsencrypt, dns: noDNS, fqdn: "httpſ://x.org", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/scheme without slashes", ssl: letsencrypt, dns: noDNS, fqdn: "https:x.org", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/scheme only", ssl: letsencrypt, dns: noDNS, fqdn: "https://", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/dots only", ssl: letsencrypt, dns: noDNS, fqdn: "https://..", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/port only", ssl: letsencrypt, dns: noDNS, fqdn: ":8443", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/bad label", ssl: letsencrypt, dns: noDNS, fqdn: "https://exa_mple.org", wantIs: []error{ErrInvalidFQDN, lablink.ErrInvalidHostname}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/a..b", ssl: letsencrypt, dns: noDNS, fqdn: "https://a..b", wantIs: []error{ErrInvalidFQDN, lablink.ErrInvalidHostname}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/space in host", ssl: letsencrypt, dns: noDNS, fqdn: "https://x .org", wantIs: []error{ErrInvalidFQDN, lablink.ErrInvalidHostname}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/numeric non-IPv4 host", ssl: letsencrypt, dns: noDNS, fqdn: "https://010.0.0.1", wantIs: []error{ErrInvalidFQDN, lablink.ErrInvalidHostname}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/hex last label", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.0x7f", wantIs: []error{ErrInvalidFQDN, lablink.ErrInvalidHostname}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/hex-like first label", ssl: letsencrypt, dns: noDNS, fqdn: "https://0x7f.org", want: "https://0x7f.org"},
	{name: "fqdn/port 0", ssl: letsencrypt, dns: noDNS, fqdn: "x.org:0", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/port 65536", ssl: letsencrypt, dns: noDNS, fqdn: "x.org:65536", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/port with sign", ssl: letsencrypt, dns: noDNS, fqdn: "x.org:+443", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/port not a number", ssl: letsencrypt, dns: noDNS, fqdn: "x.org:https", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/empty port", ssl: letsencrypt, dns: noDNS, fqdn: "https://x.org:", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/two ports", ssl: letsencrypt, dns: noDNS, fqdn: "x.org:80:80", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/IPv6 unbracketed", ssl: letsencrypt, dns: noDNS, fqdn: "2001:db8::1", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/IPv4 in brackets", ssl: letsencrypt, dns: noDNS, fqdn: "[1.2.3.4]", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/IPv6 zone", ssl: letsencrypt, dns: noDNS, fqdn: "http://[fe80::1%25eth0]", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/IPv6 missing bracket", ssl: letsencrypt, dns: noDNS, fqdn: "http://[2001:db8::1", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
	{name: "fqdn/IPv6 junk after bracket", ssl: letsencrypt, dns: noDNS, fqdn: "http://[2001:db8::1]x", wantIs: []error{ErrInvalidFQDN}, wantInput: "ALLOCATOR_FQDN"},
}

func TestDerive(t *testing.T) {
	for _, tc := range deriveCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := lablink.DefaultConfig()
			cfg.SSL = tc.ssl
			cfg.DNS = tc.dns
			in := Input{AllocatorIP: tc.ip, Environment: tc.env, FQDN: tc.fqdn}
			switch tc.ip {
			case "":
				in.AllocatorIP = "1.2.3.4"
			case "-":
				in.AllocatorIP = ""
			}

			got, err := Derive(cfg, in)

			if len(tc.wantIs) > 0 {
				require.Error(t, err, "Derive() = %v", got)
				for _, target := range tc.wantIs {
					assert.ErrorIs(t, err, target)
				}
				var ie *InputError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, tc.wantInput, ie.Input, "InputError.Input")
				assert.True(t, strings.HasPrefix(err.Error(), "allocurl: "+tc.wantInput+": "),
					"error %q does not start with the input name", err)
				assert.Zero(t, got, "URL returned with an error")
				return
			}
			require.NoError(t, err)

			type result struct {
				String string
				URL    URL
			}
			wantURL := URL{Scheme: tc.want[:strings.Index(tc.want, "://")], Host: tc.host, Port: tc.port}
			if wantURL.Host == "" {
				wantURL.Host = strings.TrimPrefix(tc.want, wantURL.Scheme+"://")
				if i := strings.LastIndexByte(wantURL.Host, ':'); i >= 0 {
					wantURL.Host = wantURL.Host[:i]
				}
			}
			if wantURL.Port == 0 {
				wantURL.Port = map[string]int{"http": 80, "https": 443}[wantURL.Scheme]
			}
			want := result{String: tc.want, URL: wantURL}
			assert.Equal(t, want, result{String: got.String(), URL: got}, "Derive()")
		})
	}
}

// TestDeriveErrorMessages pins the wording of a few errors: they are read
// by people fixing a deployment.
func TestDeriveErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*lablink.Config)
		in   Input
		want string
	}{
		{
			name: "domain empty label",
			cfg:  func(c *lablink.Config) { c.DNS = dnsOn("", "a..b") },
			want: `allocurl: dns.domain: invalid host name "a..b": two dots in a row; remove one`,
		},
		{
			name: "override path",
			in:   Input{FQDN: "https://x/path"},
			want: `allocurl: ALLOCATOR_FQDN: invalid FQDN "https://x/path": path not allowed`,
		},
		{
			name: "override bad host",
			in:   Input{FQDN: "https://a..b"},
			want: `allocurl: ALLOCATOR_FQDN: invalid FQDN "https://a..b": invalid host name "a..b": two dots in a row; remove one`,
		},
		{
			name: "unknown provider",
			cfg:  func(c *lablink.Config) { c.SSL.Provider = "digicert" },
			in:   Input{AllocatorIP: "1.2.3.4"},
			want: `allocurl: ssl.provider: unknown SSL provider "digicert"; want none, letsencrypt, cloudflare, acm or self_signed`,
		},
		{
			name: "no host",
			want: `allocurl: ALLOCATOR_PUBLIC_IP: no host for the allocator URL: no IP, no ALLOCATOR_FQDN and no DNS name (dns.enabled with dns.domain)`,
		},
		{
			name: "IPv6 zone",
			in:   Input{AllocatorIP: "fe80::1%eth0"},
			want: `allocurl: ALLOCATOR_PUBLIC_IP: invalid IP address "fe80::1%eth0": IPv6 zone not allowed`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := lablink.DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			_, err := Derive(cfg, tc.in)
			assert.EqualError(t, err, tc.want)
		})
	}
}

func TestScheme(t *testing.T) {
	tests := []struct {
		provider string
		staging  bool
		want     string
	}{
		{"none", false, "http"},
		{"none", true, "http"},
		{"letsencrypt", false, "https"},
		{"letsencrypt", true, "http"},
		{"cloudflare", false, "https"},
		{"cloudflare", true, "http"},
		{"acm", false, "https"},
		{"acm", true, "http"},
		{"self_signed", false, "https"},
		{"self_signed", true, "http"},
		{"", false, ""},
		{"digicert", true, ""},
		{"NONE", false, ""},
	}
	for _, tc := range tests {
		name := tc.provider
		if tc.staging {
			name += "/staging"
		}
		t.Run(name, func(t *testing.T) {
			got := Scheme(lablink.SSL{Provider: tc.provider, Staging: tc.staging})
			assert.Equal(t, tc.want, got, "Scheme(%q, staging %v)", tc.provider, tc.staging)
		})
	}
}

func TestURLString(t *testing.T) {
	tests := []struct {
		name string
		u    URL
		want string
	}{
		{"zero", URL{}, ""},
		{"https default port", URL{"https", "x.org", 443}, "https://x.org"},
		{"http default port", URL{"http", "x.org", 80}, "http://x.org"},
		{"https other port", URL{"https", "x.org", 8443}, "https://x.org:8443"},
		{"http port 443", URL{"http", "x.org", 443}, "http://x.org:443"},
		{"port 0 omitted", URL{"https", "x.org", 0}, "https://x.org"},
		{"IPv6", URL{"http", "2001:db8::1", 80}, "http://[2001:db8::1]"},
		{"IPv6 with port", URL{"https", "2001:db8::1", 8443}, "https://[2001:db8::1]:8443"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.u.String(), "%#v.String()", tc.u)
		})
	}
}

func BenchmarkDerive(b *testing.B) {
	benchmarks := []struct {
		name string
		cfg  func(*lablink.Config)
		in   Input
	}{
		{"ip", nil, Input{AllocatorIP: "52.40.142.146"}},
		{"ipv6", nil, Input{AllocatorIP: "2001:db8::1"}},
		{"dns", func(c *lablink.Config) { c.DNS = dnsOn("", "lablink.example.com") }, Input{}},
		{"dns auto", func(c *lablink.Config) { c.DNS = dnsOn("auto", "example.com") }, Input{Environment: "Staging Env"}},
		{"override", nil, Input{FQDN: "HTTPS://Prod.LabLink.Sleap.AI:8443/"}},
	}
	for _, bm := range benchmarks {
		cfg := lablink.DefaultConfig()
		if bm.cfg != nil {
			bm.cfg(&cfg)
		}
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				u, err := Derive(cfg, bm.in)
				if err != nil {
					b.Fatal(err)
				}
				_ = u.String()
			}
		})
	}
}
