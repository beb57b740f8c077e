package plancheck_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/lablink-go/lablink/plancheck"
)

// FuzzCheck feeds plan JSON to the checks. They never panic, they fail
// only with ErrRefused, and a plan whose client VMs are only created, left
// alone or read, with no security group rules, always passes.
// (internal/planread's FuzzReadEquivalent holds the cheaper readers to the
// verdict of the whole plan.)
func FuzzCheck(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"type":"aws_instance","name":"lablink_vm","change":{"actions":["update"],"before":{"a":[1,{"b":null}]},"after":{"a":[1,{"b":true}]},"after_unknown":{"a":[false,true]}}}]}`))
	f.Add([]byte(`{"format_version":"1.2","resource_changes":[{"type":"aws_security_group","name":"x","change":{"actions":["create"],"after":{"ingress":[{"protocol":-1,"from_port":6080.5,"to_port":"x","cidr_blocks":[null,7,"::/0"],"ipv6_cidr_blocks":"::/0"}]},"after_unknown":{"ingress":[{"cidr_blocks":[true]}]}}}]}`))
	opts := &plancheck.Options{HarmlessUpdates: []string{"tags", "*.0"}}
	f.Fuzz(func(t *testing.T, b []byte) {
		var plan tfjson.Plan
		if err := json.Unmarshal(b, &plan); err != nil {
			return
		}
		changes := plancheck.Changes(&plan)
		for _, o := range []*plancheck.Options{nil, opts} {
			err := plancheck.Check(changes, o)
			if err != nil && !errors.Is(err, plancheck.ErrRefused) {
				t.Fatalf("error is not a refusal: %v", err)
			}
			if harmless(changes) && err != nil {
				t.Fatalf("plan with only harmless actions refused: %v", err)
			}
		}
	})
}

// harmless reports whether every client VM change is a create, no-op or
// read, and no change touches a security group rule.
func harmless(changes []plancheck.Change) bool {
	vms := plancheck.DefaultClientVMs()
	for _, c := range changes {
		switch c.Type {
		case "aws_security_group", "aws_default_security_group", "aws_security_group_rule", "aws_vpc_security_group_ingress_rule":
			return false
		}
		if slices.Contains(vms, c.Type+"."+c.Name) {
			if len(c.Actions) != 1 || !slices.Contains([]string{"create", "no-op", "read"}, c.Actions[0]) {
				return false
			}
		}
	}
	return true
}
