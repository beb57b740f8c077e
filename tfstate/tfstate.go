// Package tfstate says where OpenTofu keeps the client VMs' state, and who
// holds its lock.
//
// Upstream LabLink keeps the state of the client VMs in S3, at
// "{deployment_name or lablink}/{environment}/client/terraform.tfstate" in
// the config's bucket_name, region app.region (see docs/upstream.md).
// Several allocators, or an allocator and an operator at a shell, then
// share one fleet; OpenTofu's own S3 locking (a lock object next to the
// state, OpenTofu 1.10 and later) serializes them. This package builds the
// backend configuration for that (so the module needs no edit), reads the
// lock object, and tells whether the process that took a lock is provably
// gone.
package tfstate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lablink-go/lablink"
)

// ErrInvalid is the condition behind every error of Parse.
var ErrInvalid = errors.New("invalid state location")

// Backend is where the state lives: the working directory (S3 nil) or S3.
type Backend struct {
	S3 *S3
}

// S3 is an S3 backend. The zero values of the optional fields are
// OpenTofu's defaults; the endpoint and the credentials come from the AWS
// SDK's standard chain that OpenTofu reads (AWS_ENDPOINT_URL_S3,
// AWS_ACCESS_KEY_ID, profiles, instance roles).
type S3 struct {
	Bucket string
	Key    string
	Region string
	// DynamoDBTable locks with that table as well, as upstream's existing
	// deployments do (backend-client-{env}.hcl); "" for none.
	DynamoDBTable string
	// NoLockfile turns off the S3 lock object (use_lockfile), leaving
	// DynamoDBTable alone to lock. Default false: the lock object is used.
	NoLockfile bool
	// PathStyle addresses the bucket in the path rather than the host name,
	// as S3-compatible servers such as MinIO need. Default false.
	PathStyle bool
	// Unencrypted stores the state without server-side encryption.
	// Default false: encrypt=true, as upstream's backend files say.
	Unencrypted bool
	// NotAWS skips the checks only AWS itself answers (credential
	// validation through STS, the account id, the region name, the
	// instance metadata), for S3-compatible servers. Default false.
	NotAWS bool
}

// StateKey is upstream's state key for a config and an environment:
// "{deployment_name or lablink}/{environment}/client/terraform.tfstate".
func StateKey(cfg lablink.Config, env string) string {
	name := cfg.DeploymentName
	if name == "" {
		name = "lablink"
	}
	return name + "/" + env + "/client/terraform.tfstate"
}

// Parse reads a state location: "" or "local" for the working directory;
// "s3" for upstream's bucket, key and region (see StateKey); or
// "s3://BUCKET/KEY" for another place, in the config's region. env is the
// normalized environment name.
func Parse(spec string, cfg lablink.Config, env string) (Backend, error) {
	switch spec {
	case "", "local":
		return Backend{}, nil
	case "s3":
		return Backend{S3: &S3{Bucket: cfg.BucketName, Key: StateKey(cfg, env), Region: cfg.App.Region}}, nil
	}
	rest, ok := strings.CutPrefix(spec, "s3://")
	if !ok {
		return Backend{}, fmt.Errorf("%w %q: want local, s3 or s3://BUCKET/KEY", ErrInvalid, spec)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" || key == "" || strings.HasSuffix(key, "/") {
		return Backend{}, fmt.Errorf("%w %q: want s3://BUCKET/KEY with a key naming an object", ErrInvalid, spec)
	}
	return Backend{S3: &S3{Bucket: bucket, Key: key, Region: cfg.App.Region}}, nil
}

// String is the location as Parse reads it ("local", "s3://bucket/key").
func (b Backend) String() string {
	if b.S3 == nil {
		return "local"
	}
	return "s3://" + b.S3.Bucket + "/" + b.S3.Key
}

// FileName is the file the launcher writes into the working directory to
// choose the backend. As an override file it replaces a backend the module
// declares (upstream's backend.tf) and adds one where it declares none.
const FileName = "lablink_backend_override.tf"

// File is the content of FileName: an empty backend block of the right
// type, whose settings come from BackendConfig at init.
func (b Backend) File() []byte {
	kind := "local"
	if b.S3 != nil {
		kind = "s3"
	}
	return []byte("# Written by lablink: the state backend of this working directory.\n" +
		"terraform {\n  backend \"" + kind + "\" {}\n}\n")
}

// BackendConfig lists the key=value settings for `init -backend-config`,
// nil for the local backend.
func (b Backend) BackendConfig() []string {
	s := b.S3
	if s == nil {
		return nil
	}
	kv := []string{
		"bucket=" + s.Bucket,
		"key=" + s.Key,
		"region=" + s.Region,
		"encrypt=" + strconv.FormatBool(!s.Unencrypted),
		"use_lockfile=" + strconv.FormatBool(!s.NoLockfile),
	}
	if s.DynamoDBTable != "" {
		kv = append(kv, "dynamodb_table="+s.DynamoDBTable)
	}
	if s.PathStyle {
		kv = append(kv, "use_path_style=true")
	}
	if s.NotAWS {
		kv = append(kv,
			"skip_credentials_validation=true",
			"skip_requesting_account_id=true",
			"skip_region_validation=true",
			"skip_metadata_api_check=true",
		)
	}
	return kv
}

// LockKey is the key of OpenTofu's lock object for the state.
func (s S3) LockKey() string { return s.Key + ".tflock" }
