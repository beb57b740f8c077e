// Package audit keeps the audit trail of client-VM launches and destroys: the
// runtime tfvars file each one applied and a JSON manifest of what happened.
//
// Upstream LabLink uploads terraform.runtime.tfvars to
// s3://{bucket}/{env}/client/terraform.runtime.tfvars after a successful
// apply, overwriting it each time, so only the last launch is known. This
// package keeps that object (the "latest" copy, for tools that read it) and
// adds an immutable history with one prefix per attempt:
//
//	{env}/client/terraform.runtime.tfvars                      latest, overwritten
//	{env}/client/history/{launchID}/terraform.runtime.tfvars   written by Begin
//	{env}/client/history/{launchID}/attempt.json               written by Begin
//	{env}/client/history/{launchID}/manifest.json              written by Finish
//
// History objects are created with create-only semantics (Store.Create), so
// they are never overwritten, even by a buggy or concurrent caller. A
// create that finds its own bytes already stored (a retried request whose
// first answer was lost) succeeds; one that finds other bytes fails with
// ErrExists. Attempts that fail, are refused or canceled are recorded too.
//
// The same layout is used by both stores: S3Store (an S3 bucket, optionally
// under a prefix, optionally with SSE-KMS) and DirStore (a local directory,
// the default when no bucket is configured). ParseStore picks one from a
// command-line argument; it takes the AWS configuration from its caller, so
// that this package does not depend on the SDK's configuration chain.
//
// The Trail stores the tfvars bytes it is given verbatim. Redacting sensitive
// variables is the caller's job and must happen before Begin; the caller
// records what it redacted in Manifest.Variables (VariableSource.Redacted)
// and the digest of the unredacted file in Manifest.TFVarsSHA256.
package audit
