// Package planscope says which resource changes of a plan the policies of
// package plancheck read the values of. plancheck dispatches its checks
// on it, and the plan readers of internal/planread decode the values of
// those changes only, skipping the rest (the bulk of a plan: every created
// VM's user_data, twice). Both use this one definition, so a reader can
// never skip a value a policy reads.
package planscope

import (
	"fmt"
	"slices"
	"strings"
)

// Resource types that carry ingress rules, which the security-group
// policy reads.
const (
	SecurityGroup        = "aws_security_group"
	DefaultSecurityGroup = "aws_default_security_group"
	SecurityGroupRule    = "aws_security_group_rule"
	VPCIngressRule       = "aws_vpc_security_group_ingress_rule"
)

// VMs is a set of client-VM resources by type and name, each matching in
// every module and at every index. A VMs is read-only once made, and safe
// for concurrent use.
type VMs map[[2]string]bool

// ParseVMs makes the set of resources named "TYPE.NAME" in list. It
// returns one error for each entry that is not of that form.
func ParseVMs(list []string) (VMs, []error) {
	vms := make(VMs, len(list))
	var errs []error
	for _, s := range list {
		typ, name, ok := strings.Cut(s, ".")
		if !ok || typ == "" || name == "" || strings.ContainsAny(name, ".[") {
			errs = append(errs, fmt.Errorf("client VM %q: want TYPE.NAME", s))
			continue
		}
		vms[[2]string{typ, name}] = true
	}
	return vms, errs
}

// Has reports whether a resource of type typ named name is a client VM.
func (v VMs) Has(typ, name string) bool { return v[[2]string{typ, name}] }

// IsSecurityGroup reports whether a change of a resource of mode and typ
// carries ingress rules: a managed resource ("" is read as managed) of one
// of the types above.
func IsSecurityGroup(mode, typ string) bool {
	if mode == "data" {
		return false
	}
	switch typ {
	case SecurityGroup, DefaultSecurityGroup, SecurityGroupRule, VPCIngressRule:
		return true
	}
	return false
}

// Exposes reports whether actions leave an object whose planned value the
// security-group policy must read: any action other than delete, forget,
// no-op and read, and no actions at all.
func Exposes(actions []string) bool {
	if len(actions) == 0 {
		return true
	}
	for _, a := range actions {
		switch a {
		case "delete", "forget", "no-op", "read":
		default:
			return true
		}
	}
	return false
}

// NeedsValues reports whether the policies read the before, after and
// after_unknown values of a change of a resource of mode, typ and name
// with actions, when v are the client VMs: an update in place of a client
// VM (the guard compares its values) and a security-group resource that
// Exposes (the policy reads its rules).
func (v VMs) NeedsValues(mode, typ, name string, actions []string) bool {
	if v.Has(typ, name) && slices.Equal(actions, []string{"update"}) {
		return true
	}
	return IsSecurityGroup(mode, typ) && Exposes(actions)
}
