// Package inventory lists the client VMs that exist in the cloud for one
// LabLink deployment, and reports those the OpenTofu state does not hold.
//
// An apply that is killed (the allocator, or OpenTofu itself) may have
// created VMs that never reached the state: on AWS they run, and are
// billed, with nobody tracking them. Nothing created may be forgotten, so
// each VM carries the deployment it belongs to and the launch that created
// it, and after a crash the launcher compares the cloud's inventory with the
// state: [Orphans] reports every VM the cloud holds that the state does not,
// with the command that imports it into the state or terminates it.
//
// Two inventories satisfy [Lister]:
//
//   - [EC2] asks EC2's DescribeInstances, through the SDK's per-operation
//     interface and paginator, for the instances tagged with the
//     deployment ([TagDeployment] = the module's resource_prefix) that are
//     pending, running, stopping or stopped. The aws client module tags
//     each instance with [TagName], [TagDeployment] and [TagLaunchID].
//   - [Dir] reads the inventory of the provider-free local client module:
//     with its inventory_dir variable set, each VM's creation writes one
//     JSON file ([Record]) into that directory, before OpenTofu records the
//     VM in its state, and its destruction removes the file. It serves
//     tests and dry runs the way EC2 serves real launches.
package inventory
