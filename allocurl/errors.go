package allocurl

import "errors"

// Conditions behind the errors of Derive. Every error Derive returns is an
// *InputError wrapping one of these, or lablink.ErrInvalidHostname for a
// DNS name that is not a valid host name.
var (
	// ErrNoHost means there is nothing to build a URL from: no override,
	// no DNS name and no allocator IP. Upstream produced "http://" here.
	ErrNoHost = errors.New("no host for the allocator URL")

	// ErrInvalidFQDN means the override (ALLOCATOR_FQDN) is blank, has a
	// scheme other than http or https, holds a path, query, fragment or
	// user info, or has an invalid host or port.
	ErrInvalidFQDN = errors.New("invalid FQDN")

	// ErrInvalidIP means the allocator IP does not parse as an IPv4 or
	// IPv6 address, or carries an IPv6 zone.
	ErrInvalidIP = errors.New("invalid IP address")

	// ErrUnknownProvider means ssl.provider is none of "none",
	// "letsencrypt", "cloudflare", "acm" or "self_signed".
	ErrUnknownProvider = errors.New("unknown SSL provider")

	// ErrUnknownPattern means dns.pattern is none of "", "auto",
	// "app-only" or "custom".
	ErrUnknownPattern = errors.New("unknown DNS pattern")
)

// InputError is the error type of Derive: it names the config path (such
// as "dns.domain") or the upstream environment variable (such as
// "ALLOCATOR_FQDN") whose value could not be used. Err says what is wrong
// and names the value; errors.Is sees through it to the sentinels above
// and to lablink.ErrInvalidHostname.
type InputError struct {
	// Input is a config path ("ssl.provider", "dns.domain",
	// "dns.custom_subdomain", "dns.app_name", "dns.pattern") or an input
	// named after its upstream environment variable ("ALLOCATOR_FQDN",
	// "ALLOCATOR_PUBLIC_IP", "ENVIRONMENT"). A DNS name that is only too
	// long once its parts are joined names every part, joined with "+".
	Input string
	// Value is the offending value as given, before any trimming.
	Value string
	// Err is the reason.
	Err error
}

func (e *InputError) Error() string {
	return "allocurl: " + e.Input + ": " + e.Err.Error()
}

func (e *InputError) Unwrap() error { return e.Err }
