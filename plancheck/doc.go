// Package plancheck decides whether a saved OpenTofu (or Terraform) plan of
// the client-VM module may be applied. It is pure: it reads the plan's
// resource changes, as `tofu show -json` prints them, and returns nil or a
// *RefusedError listing every reason at once:
//
//	err := plancheck.Check(plancheck.Changes(plan), nil) // plan from tfexec's ShowPlanFile
//
// Two policies run over every plan, and both fail closed: what they cannot
// prove harmless from the plan is refused.
//
// The guard protects running client VMs (by default `aws_instance.lablink_vm`
// and the local module's `terraform_data.lablink_vm`, in any module and at
// any index). A launch only adds VMs, so create, no-op and read pass;
// delete, replace (in either order), forget (a `removed` block, or
// OpenTofu 1.12's `lifecycle { destroy = false }`, which leaves the VM
// running outside the state), forget with create, and update in place are
// refused. On AWS an in-place change of user_data or instance type stops
// and starts the instance, in the middle of a lab. An update passes only
// when every attribute it changes is one the operator declared harmless in
// Options.HarmlessUpdates (tags, say). Any other set of actions is refused.
//
// The security-group policy refuses a plan whose created or updated
// security groups let the public internet (0.0.0.0/0 or ::/0) reach the
// client's KasmVNC (6080) or agent (7070) port: inline ingress blocks of
// aws_security_group and aws_default_security_group, and the separate
// aws_security_group_rule and aws_vpc_security_group_ingress_rule
// resources; a port range that contains the port counts, and so does the
// all-traffic protocol "-1". Upstream LabLink's plan audit (utils/sg_audit.py,
// see docs/upstream.md) compares from_port only, so a range such as
// 6000-8000 passes it.
//
// The policies work on Change values, not on *tfjson.Plan: Changes adapts
// a plan decoded by terraform-json (tfexec's ShowPlanFile), and any other
// reader of the plan JSON may build the same values. Check reads Before,
// After and AfterUnknown only of an update in place of a client VM and of
// a security-group resource it must look into (created, updated, or with
// actions it does not know); a reader may leave them nil elsewhere and
// get the verdict of the whole plan.
//
// Messages name addresses, actions, attribute paths, rules and ports, never
// attribute values: a plan holds the VMs' tokens. (A path does name the
// keys of a map attribute it passes through, such as tags.Name.)
package plancheck
