// Package allocurl derives the LabLink allocator's public URL and port from
// its SSL and DNS configuration, the allocator's public IP, the environment
// name and an optional override.
//
// The URL reaches the client VMs through OpenTofu as allocator_url and
// allocator_port, so a wrong scheme or host leaves every client VM unable
// to register. Upstream built it in two places with different rules, and
// produced "http://" when it had no host at all; Derive is the single rule,
// and it reports an error naming the input instead of guessing.
//
// The package is pure: no I/O, no environment lookups (callers read
// ALLOCATOR_PUBLIC_IP, ENVIRONMENT and ALLOCATOR_FQDN and pass them in
// Input), and every function is safe for concurrent use.
package allocurl
