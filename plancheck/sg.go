package plancheck

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/lablink-go/lablink/internal/planscope"
)

// isSGRule reports whether c is a resource that carries ingress rules.
func (o *checker) isSGRule(c Change) bool { return planscope.IsSecurityGroup(c.Mode, c.Type) }

// tri is a verdict that may be unknown until apply.
type tri int

const (
	no tri = iota
	maybe
	yes
)

// node is a value of change.after with its counterpart in
// change.after_unknown.
type node struct {
	v, u    any
	present bool
}

func (n node) unknown() bool { return n.u == true }

// missing reports an attribute that is neither in after nor unknown:
// OpenTofu prints every attribute of the schema, so the plan is not one
// this check can read.
func (n node) missing() bool { return !n.present && !n.unknown() }

func (n node) get(k string) node {
	m, _ := n.v.(map[string]any)
	v, ok := m[k]
	c := node{v: v, present: ok}
	if n.unknown() {
		c.u = true
	} else if um, isMap := n.u.(map[string]any); isMap {
		c.u = um[k]
	}
	return c
}

func (n node) index(i int) node {
	l, _ := n.v.([]any)
	c := node{present: i < len(l)}
	if c.present {
		c.v = l[i]
	}
	if n.unknown() {
		c.u = true
	} else if ul, isList := n.u.([]any); isList && i < len(ul) {
		c.u = ul[i]
	}
	return c
}

// rule is one ingress rule, whatever resource holds it.
type rule struct {
	label    string
	whole    bool // nothing about the rule can be read
	protocol node
	from, to node
	cidrs    map[string]node // by attribute name
}

func (o *checker) securityGroup(c Change) []Violation {
	if !planscope.Exposes(c.Actions) {
		return nil
	}
	var vs []Violation
	for _, r := range rulesOf(c) {
		vs = append(vs, o.checkRule(c, r)...)
	}
	return vs
}

// wholeRule stands for a rule nothing is known about (unknown or
// unreadable), so that it is refused unless proven safe.
func wholeRule(label string) rule {
	u := node{u: true}
	return rule{label: label, whole: true, protocol: u, from: u, to: u, cidrs: map[string]node{"source": u}}
}

// rulesOf lists the ingress rules a created or updated security-group
// resource plans.
func rulesOf(c Change) []rule {
	root := node{v: c.After, u: c.AfterUnknown, present: c.After != nil}
	switch {
	case root.missing():
		return []rule{wholeRule("planned value (missing)")}
	case c.Type == planscope.SecurityGroup || c.Type == planscope.DefaultSecurityGroup:
		return inlineRules(root.get("ingress"))
	case c.Type == planscope.SecurityGroupRule:
		if t, ok := root.get("type").v.(string); ok && t != "ingress" {
			return nil
		}
		return []rule{{
			label:    "ingress rule",
			protocol: root.get("protocol"),
			from:     root.get("from_port"),
			to:       root.get("to_port"),
			cidrs:    map[string]node{"cidr_blocks": root.get("cidr_blocks"), "ipv6_cidr_blocks": root.get("ipv6_cidr_blocks")},
		}}
	case c.Type == planscope.VPCIngressRule:
		return []rule{{
			label:    "ingress rule",
			protocol: root.get("ip_protocol"),
			from:     root.get("from_port"),
			to:       root.get("to_port"),
			cidrs:    map[string]node{"cidr_ipv4": root.get("cidr_ipv4"), "cidr_ipv6": root.get("cidr_ipv6")},
		}}
	}
	return nil
}

// inlineRules lists the ingress blocks of an aws_security_group.
func inlineRules(ingress node) []rule {
	l, isList := ingress.v.([]any)
	switch {
	case ingress.unknown():
		return []rule{wholeRule("ingress (unknown until apply)")}
	case ingress.missing():
		return []rule{wholeRule("ingress (missing)")}
	case ingress.v == nil:
		return nil
	case !isList:
		return []rule{wholeRule("ingress (not a list)")}
	}
	rules := make([]rule, 0, len(l))
	for i := range l {
		r := ingress.index(i)
		rules = append(rules, rule{
			label:    fmt.Sprintf("ingress[%d]", i),
			protocol: r.get("protocol"),
			from:     r.get("from_port"),
			to:       r.get("to_port"),
			cidrs:    map[string]node{"cidr_blocks": r.get("cidr_blocks"), "ipv6_cidr_blocks": r.get("ipv6_cidr_blocks")},
		})
	}
	return rules
}

// checkRule returns one violation per port the rule may open to a public
// source.
func (o *checker) checkRule(c Change, r rule) []Violation {
	var notes []string
	src, public := no, []string{}
	for _, attr := range []string{"cidr_blocks", "ipv6_cidr_blocks", "cidr_ipv4", "cidr_ipv6", "source"} {
		n, ok := r.cidrs[attr]
		if !ok {
			continue
		}
		t, matched, note := o.sources(attr, n)
		src = max(src, t)
		public = appendNew(public, matched...)
		if note != "" {
			notes = append(notes, note)
		}
	}
	if src == no {
		return nil
	}
	all, proto, protoNote := allTraffic(r.protocol)
	if protoNote != "" {
		notes = append(notes, protoNote)
	}
	from, fromOK, fromNote := port(r.from, "from_port")
	to, toOK, toNote := port(r.to, "to_port")
	if all != yes {
		for _, n := range []string{fromNote, toNote} {
			if n != "" {
				notes = append(notes, n)
			}
		}
	}
	var vs []Violation
	for _, p := range o.ports {
		reach := all
		if reach != yes {
			switch {
			case fromOK && p < from, toOK && p > to:
			case fromOK && toOK:
				reach = yes
			default:
				reach = maybe
			}
		}
		if reach == no {
			continue
		}
		desc := r.label
		if !r.whole {
			desc = describe(r, all, proto, from, fromOK, to, toOK, public, notes)
		}
		var reason string
		if reach == yes && src == yes {
			reason = fmt.Sprintf("%s refused: it lets %s reach port %d", desc, strings.Join(public, " and "), p)
		} else {
			reason = fmt.Sprintf("%s refused: it may let %s reach port %d", desc, o.publicList(public), p)
		}
		vs = append(vs, Violation{Address: address(c), Actions: slices.Clone(c.Actions), Reason: reason})
	}
	return vs
}

// publicList names the public sources a rule matched, or all of them when
// it matched none for sure.
func (o *checker) publicList(matched []string) string {
	if len(matched) > 0 {
		return strings.Join(matched, " and ")
	}
	all := make([]string, len(o.public))
	for i, p := range o.public {
		all[i] = p.String()
	}
	return strings.Join(all, " or ")
}

// sources reads a CIDR attribute (a list or a single string) and returns
// whether it holds a public source, which public prefixes it contains, and
// a note when it cannot tell.
func (o *checker) sources(attr string, n node) (tri, []string, string) {
	switch {
	case n.unknown():
		return maybe, nil, attr + " unknown until apply"
	case n.missing():
		return maybe, nil, attr + " missing"
	}
	switch v := n.v.(type) {
	case nil:
		return no, nil, ""
	case string:
		return o.cidr(attr, v)
	case []any:
		t, matched, note := no, []string(nil), ""
		for i := range v {
			e := n.index(i)
			if e.unknown() {
				t, note = max(t, maybe), attr+" unknown until apply"
				continue
			}
			s, ok := e.v.(string)
			if !ok {
				t, note = max(t, maybe), attr+" not a list of CIDRs"
				continue
			}
			et, em, en := o.cidr(attr, s)
			t = max(t, et)
			matched = appendNew(matched, em...)
			if en != "" {
				note = en
			}
		}
		return t, matched, note
	}
	return maybe, nil, attr + " not a list of CIDRs"
}

// cidr reports which public prefixes the rule's CIDR s contains: a rule
// for R lets every address of P in when R contains P.
func (o *checker) cidr(attr, s string) (tri, []string, string) {
	r, err := netip.ParsePrefix(s)
	if err != nil {
		// The provider would reject it; this check cannot read it.
		return maybe, nil, attr + " holds a value that is not a CIDR"
	}
	r = r.Masked()
	var matched []string
	for _, p := range o.public {
		if r.Addr().Is4() == p.Addr().Is4() && r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			matched = append(matched, p.String())
		}
	}
	if len(matched) == 0 {
		return no, nil, ""
	}
	return yes, matched, ""
}

// allTraffic reports whether the protocol is AWS's all-traffic protocol,
// which ignores the ports, and returns the protocol's name.
func allTraffic(n node) (tri, string, string) {
	switch {
	case n.unknown():
		return maybe, "", "protocol unknown until apply"
	case n.missing():
		return maybe, "", "protocol missing"
	}
	s, ok := n.v.(string)
	if !ok {
		return maybe, "", "protocol not a string"
	}
	if s == "-1" || strings.EqualFold(s, "all") {
		return yes, s, ""
	}
	return no, s, ""
}

// port reads a port bound.
func port(n node, attr string) (int, bool, string) {
	switch {
	case n.unknown():
		return 0, false, attr + " unknown until apply"
	case n.missing(), n.v == nil:
		return 0, false, attr + " not set"
	}
	f, ok := number(n.v)
	if !ok || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, false, attr + " not a whole number"
	}
	return int(f), true, ""
}

// describe names a rule for a message: its label, protocol, ports and the
// public sources it holds, or what could not be read.
func describe(r rule, all tri, proto string, from int, fromOK bool, to int, toOK bool, public []string, notes []string) string {
	var parts []string
	switch {
	case all == yes:
		parts = append(parts, "all traffic")
	case proto != "" && fromOK && toOK && from == to:
		parts = append(parts, proto+" "+strconv.Itoa(from))
	case proto != "" && fromOK && toOK:
		parts = append(parts, fmt.Sprintf("%s %d-%d", proto, from, to))
	case proto != "":
		parts = append(parts, proto)
	}
	if len(public) > 0 {
		if len(parts) > 0 {
			parts[len(parts)-1] += " from " + strings.Join(public, ", ")
		} else {
			parts = append(parts, "from "+strings.Join(public, ", "))
		}
	}
	parts = append(parts, notes...)
	if len(parts) == 0 {
		return r.label
	}
	return r.label + " (" + strings.Join(parts, "; ") + ")"
}

// appendNew appends the items that list does not hold yet.
func appendNew(list []string, items ...string) []string {
	for _, s := range items {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}
