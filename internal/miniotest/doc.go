// Package miniotest runs a real MinIO server on the loopback interface for
// tests that talk S3.
//
// The MinIO binary comes from $MINIO_PATH, else from "minio" on PATH, else it
// is built once from the pinned module version (Module, Version) into the
// cache of internal/buildcache. Building takes a few minutes, so tests that
// use this package need a generous -timeout.
//
// Start gives a test its own server, stopped when the test ends. Shared gives
// every test of a package the same server, started on first use; a package
// that calls Shared should stop it from TestMain with Run:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
package miniotest
