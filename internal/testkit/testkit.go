// Package testkit holds what several test packages of this module share:
// a config today's rules accept and the run-time values tests pass for it.
package testkit

import "github.com/lablink-go/lablink"

// Run-time values tests use: a documentation address (RFC 5737), a
// well-formed security group id and two tokens of the URL-safe alphabet.
const (
	AllocatorIP   = "203.0.113.10"
	SecurityGroup = "sg-0123456789abcdef0"
	AgentToken    = "agent-token-for-tests-0123456789abcdef"
	RegisterToken = "register-token-for-tests-0123456789abcdef"
)

// Config is lablink.DefaultConfig served over plain HTTP on the
// allocator's IP: the defaults themselves ask for Let's Encrypt without
// DNS, which today's rules refuse, as upstream's do.
func Config() lablink.Config {
	c := lablink.DefaultConfig()
	c.SSL.Provider = "none"
	return c
}
