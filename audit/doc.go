// Package audit keeps the audit trail of client-VM launches and destroys
// (Trail: the runtime tfvars each applied and a JSON manifest of what
// happened) and the records of the operations an allocator runs (OpStore:
// upstream's queued, running, succeeded, failed or interrupted operations).
// What an attempt or an operation does is an Action: Launch or Destroy.
//
// Upstream LabLink uploads terraform.runtime.tfvars to
// s3://{bucket}/{env}/client/terraform.runtime.tfvars after a successful
// apply, overwriting it each time, so only the last launch is known. This
// package keeps that object (the "latest" copy, for tools that read it) and
// adds an immutable history with one prefix per attempt, and the indexes
// that let a reader find the newest records without reading the others:
//
//	{env}/client/terraform.runtime.tfvars                      latest, overwritten
//	{env}/client/history/{launchID}/terraform.runtime.tfvars   written by Begin
//	{env}/client/history/{launchID}/attempt.json               written by Begin
//	{env}/client/history/{launchID}/manifest.json              written by Finish
//	{env}/client/history-index/{shards}/{inv}-{launchID}       written by Begin, last
//	{env}/client/history-index.json                            marker: the index is complete
//	{env}/client/ops/records/{shards}/{inv}-{id}.json          an operation, rewritten at each change
//	{env}/client/ops/status/{status}/{shards}/{inv}-{id}       the operation's current status
//	{env}/client/ops/layout.json                               marker: first-layout records copied
//
// {inv} is a number inverted so that keys sort newest first (Started in
// Unix milliseconds, or the operation id, subtracted from 10^14-1 or
// 10^12-1), and {shards} its leading digits as directories of at most 100
// entries (MinIO, like DirStore, reads a whole directory to list part of
// it). S3 lists keys in ascending order, so the newest record is a
// ListObjectsV2 with MaxKeys 1, and each page of newer-first records is one
// List after the previous page's last key. The newest audit record
// (Trail.Latest), a page of the history or of the operations, the next
// operation id (OpStore.Create) and the live operations (OpStore.Interrupt)
// read a bounded number of objects however long the history: a status
// poll costs the same with ten records as with ten thousand
// (BenchmarkFlatReads). The status index holds one entry per operation
// under its current status: a status change writes the new entry, then the
// record, then removes the old entry, so that a live operation always has
// a live entry; readers check each entry against its record.
//
// Records written before these indexes existed are read: the first read of
// an environment by a Trail or an OpStore looks for the marker and, when
// there is none, indexes the history (reading it once) or copies the
// operation records of the first layout ({env}/client/operations/{id}.json,
// left in place) and writes the marker. Every process sharing a store must
// run this version or a later one: what an older one writes afterwards is
// not indexed.
//
// History objects are created with create-only semantics (Store.Create), so
// they are never overwritten, even by a buggy or concurrent caller. A
// create that finds its own bytes already stored (a retried request whose
// first answer was lost) succeeds; one that finds other bytes fails with
// ErrExists. Attempts that fail, are refused or canceled are recorded too.
// Every write of a Trail or an OpStore is bounded by Options.WriteTimeout
// and retried when it times out (Options.WriteAttempts), so that a stalled
// S3 endpoint cannot hold a launch for ever; BoundedWrites gives other
// writers of a Store the same bound.
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
