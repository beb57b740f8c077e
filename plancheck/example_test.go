package plancheck_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/lablink-go/lablink/plancheck"
)

func ExampleChanges() {
	// What `tofu show -json` printed for a saved plan (tfexec's
	// ShowPlanFile returns the same *tfjson.Plan).
	b, err := os.ReadFile("testdata/plans/forget-create.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	var plan tfjson.Plan
	if err := json.Unmarshal(b, &plan); err != nil {
		fmt.Println(err)
		return
	}

	err = plancheck.Check(plancheck.Changes(&plan), nil)
	var refused *plancheck.RefusedError
	if errors.As(err, &refused) {
		for _, v := range refused.Violations {
			fmt.Println(v.Address, v.Actions)
		}
	}
	fmt.Println(errors.Is(err, plancheck.ErrRefused))
	// Output:
	// terraform_data.lablink_vm[0] [forget create]
	// terraform_data.lablink_vm[1] [forget create]
	// true
}

func ExampleCheck() {
	vm := func(name, userData string) map[string]any {
		return map[string]any{"user_data_base64": userData, "tags": map[string]any{"Name": name}, "tags_all": map[string]any{"Name": name}}
	}
	changes := []plancheck.Change{
		{
			Address: "aws_instance.lablink_vm[0]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"update"},
			Before: vm("lab-vm-1", "H4sIAAA"), After: vm("class-b-vm-1", "H4sIAAA"),
		},
		{
			Address: "aws_instance.lablink_vm[2]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"update"},
			Before: vm("lab-vm-3", "H4sIAAA"), After: vm("lab-vm-3", "H4sIBBB"),
		},
		{
			Address: "aws_vpc_security_group_ingress_rule.vnc", Type: "aws_vpc_security_group_ingress_rule", Name: "vnc",
			Actions: []string{"create"},
			After: map[string]any{
				"ip_protocol": "tcp", "from_port": 6000.0, "to_port": 8000.0,
				"cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": nil,
			},
		},
	}
	err := plancheck.Check(changes, &plancheck.Options{HarmlessUpdates: []string{"tags", "tags_all"}})
	fmt.Println(err)
	// Output:
	// plan refused: aws_instance.lablink_vm[2]: update in place (changes user_data_base64) refused: a running VM may be stopped; aws_vpc_security_group_ingress_rule.vnc: ingress rule (tcp 6000-8000 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080; aws_vpc_security_group_ingress_rule.vnc: ingress rule (tcp 6000-8000 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 7070
}

// A security group rule that lets the internet reach KasmVNC is refused
// whatever else the plan does; so is a range that contains the port.
func ExampleCheck_publicPort() {
	changes := []plancheck.Change{{
		Address: "aws_security_group_rule.vnc", Type: "aws_security_group_rule", Name: "vnc",
		Actions: []string{"create"},
		After: map[string]any{
			"type": "ingress", "protocol": "tcp", "from_port": 6080.0, "to_port": 6080.0,
			"cidr_blocks": []any{"0.0.0.0/0"}, "ipv6_cidr_blocks": []any{},
		},
	}}
	err := plancheck.Check(changes, nil)
	fmt.Println(errors.Is(err, plancheck.ErrRefused))
	fmt.Println(err)
	// Output:
	// true
	// plan refused: aws_security_group_rule.vnc: ingress rule (tcp 6080 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080
}
