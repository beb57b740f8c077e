// Package chaos holds the test that kills the HTTP allocator at random
// moments of its launches and proves that nothing is lost (issue 16): the
// state always parses, every VM the cloud holds is in the state or
// reported as an orphan, no operation is left queued or running, no lock
// is left once recovered, the runtime tfvars are whole, and every attempt
// has its audit record.
//
// Each round runs the real server binary (examples/http) on the local
// client module with its inventory directory as the cloud, with a real
// OpenTofu, against a local state or an S3 state and audit store in a real
// MinIO, and kills it in one of four ways: SIGTERM of the server, SIGKILL
// of the server's whole process group, SIGKILL of OpenTofu alone, or
// MinIO stopped and started under the S3 state. Then it restarts the
// server, restores a state the server refuses (as an operator would with
// the CLI's restore-state), launches again and checks. The tally it prints
// (and writes to $LABLINK_CHAOS_TALLY when set) counts the rounds, the
// kills of each kind, the VMs lost and the states lost.
package chaos
