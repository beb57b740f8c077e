package plancheck_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/plantest"
	"github.com/lablink-go/lablink/plancheck"
)

func TestSecurityGroups(t *testing.T) {
	const (
		sg   = "aws_security_group.lablink_client: "
		rule = "aws_security_group_rule."
		vpc  = "aws_vpc_security_group_ingress_rule."
		may  = "refused: it may let 0.0.0.0/0 or ::/0 reach port "
	)
	tests := []struct {
		file string
		opts *plancheck.Options
		want []string
	}{
		// Inline ingress blocks.
		{file: "inline-6080-v4", want: []string{sg + "ingress[0] (tcp 6080 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080"}},
		{file: "inline-7070-v6", want: []string{sg + "ingress[0] (tcp 7070 from ::/0) refused: it lets ::/0 reach port 7070"}},
		{file: "inline-range-6000-8000", want: []string{ // upstream checks from_port only and passes this
			sg + "ingress[1] (tcp 6000-8000 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080",
			sg + "ingress[1] (tcp 6000-8000 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 7070",
		}},
		{file: "inline-range-ends-at-6080", want: []string{sg + "ingress[0] (tcp 5000-6080 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080"}},
		{file: "inline-range-between"},
		{file: "inline-all-traffic", want: []string{
			sg + "ingress[0] (all traffic from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080",
			sg + "ingress[0] (all traffic from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 7070",
		}},
		{file: "inline-protocol-all", want: []string{
			sg + "ingress[0] (all traffic from ::/0) refused: it lets ::/0 reach port 6080",
			sg + "ingress[0] (all traffic from ::/0) refused: it lets ::/0 reach port 7070",
		}},
		{file: "inline-allocator-only"}, // the example module's rules: allocator SG only, SSH open
		{file: "inline-private-cidr"},
		{file: "inline-v6-spelled-out", want: []string{sg + "ingress[0] (tcp 7070 from ::/0) refused: it lets ::/0 reach port 7070"}},
		{file: "inline-cidr-unknown", want: []string{sg + "ingress[1] (tcp 6080; cidr_blocks unknown until apply) " + may + "6080"}},
		{file: "inline-ingress-unknown", want: []string{sg + "ingress (unknown until apply) " + may + "6080", sg + "ingress (unknown until apply) " + may + "7070"}},
		{file: "inline-ingress-missing", want: []string{sg + "ingress (missing) " + may + "6080", sg + "ingress (missing) " + may + "7070"}},
		{file: "inline-update", want: []string{sg + "ingress[0] (tcp 7070 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 7070"}},
		{file: "inline-replace", want: []string{sg + "ingress[0] (tcp 6080 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080"}},
		{file: "inline-delete"},    // the group goes away
		{file: "inline-noop"},      // this plan does not open it
		{file: "inline-data-read"}, // a data source opens nothing
		{file: "default-sg", want: []string{"aws_default_security_group.default: ingress[0] (tcp 7070 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 7070"}},
		{file: "module-sg", want: []string{"module.clients." + sg + "ingress[0] (tcp 6080 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080"}},

		// aws_security_group_rule.
		{file: "rule-6080-v4", want: []string{rule + "vnc: ingress rule (tcp 6080 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080"}},
		{file: "rule-range-v6", want: []string{rule + "agent: ingress rule (tcp 7000-7100 from ::/0) refused: it lets ::/0 reach port 7070"}},
		{file: "rule-all-traffic", want: []string{
			rule + "all: ingress rule (all traffic from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080",
			rule + "all: ingress rule (all traffic from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 7070",
		}},
		{file: "rule-egress"},
		{file: "rule-source-sg"},

		// aws_vpc_security_group_ingress_rule.
		{file: "vpc-rule-6080-v4", want: []string{vpc + "vnc: ingress rule (tcp 6080 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080"}},
		{file: "vpc-rule-range-v6", want: []string{
			vpc + "vnc: ingress rule (tcp 6000-8000 from ::/0) refused: it lets ::/0 reach port 6080",
			vpc + "vnc: ingress rule (tcp 6000-8000 from ::/0) refused: it lets ::/0 reach port 7070",
		}},
		{file: "vpc-rule-all-traffic", want: []string{
			vpc + "all: ingress rule (all traffic from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080",
			vpc + "all: ingress rule (all traffic from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 7070",
		}},
		{file: "vpc-rule-referenced-sg"},
		{file: "vpc-rule-other-port"},
		{file: "vpc-rule-cidr-unknown", want: []string{vpc + "agent: ingress rule (tcp 7070; cidr_ipv4 unknown until apply) " + may + "7070"}},
		{file: "vpc-rule-not-a-cidr", want: []string{vpc + "vnc: ingress rule (tcp 6080; cidr_ipv4 holds a value that is not a CIDR) " + may + "6080"}},

		// Every violation of a plan, at once.
		{file: "many", want: []string{
			sg + "ingress[1] (tcp 6000-8000 from ::/0) refused: it lets ::/0 reach port 6080",
			sg + "ingress[1] (tcp 6000-8000 from ::/0) refused: it lets ::/0 reach port 7070",
			rule + "agent: ingress rule (tcp 7070 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 7070",
			vpc + "all: ingress rule (all traffic from ::/0) refused: it lets ::/0 reach port 6080",
			vpc + "all: ingress rule (all traffic from ::/0) refused: it lets ::/0 reach port 7070",
		}},

		// Options.
		{file: "vpc-rule-other-port", opts: &plancheck.Options{Ports: []int{443}}, want: []string{
			vpc + "https: ingress rule (tcp 443 from 0.0.0.0/0, ::/0) refused: it lets 0.0.0.0/0 and ::/0 reach port 443",
		}},
		{file: "inline-7070-v6", opts: &plancheck.Options{PublicCIDRs: []string{"0.0.0.0/0"}}},
		{file: "inline-private-cidr", opts: &plancheck.Options{PublicCIDRs: []string{"10.1.0.0/16"}}, want: []string{
			// 10.0.0.0/8 contains 10.1.0.0/16.
			sg + "ingress[0] (tcp 6080-7070 from 10.1.0.0/16) refused: it lets 10.1.0.0/16 reach port 6080",
			sg + "ingress[0] (tcp 6080-7070 from 10.1.0.0/16) refused: it lets 10.1.0.0/16 reach port 7070",
		}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		name := tt.file
		if tt.opts != nil {
			name += " with options"
		}
		seen[tt.file] = true
		t.Run(name, func(t *testing.T) {
			plan := plantest.LoadPlan(t, "testdata/sg/"+tt.file+".json")
			assert.Equal(t, tt.want, violations(t, name, plan, tt.opts), name)
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "sg", "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		assert.True(t, seen[strings.TrimSuffix(filepath.Base(f), ".json")], "%s has no row", f)
	}
}
