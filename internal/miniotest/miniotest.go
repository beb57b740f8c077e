package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Module and Version pin the MinIO server that is built when no binary is
// supplied through $MINIO_PATH or PATH.
const (
	Module  = "github.com/minio/minio"
	Version = "v0.0.0-20260212201848-7aac2a2c5b7c"
)

// Region is the region S3Client signs for; MinIO accepts it by default.
const Region = "us-east-1"

// Bounds on waiting for the server. They limit how long a broken server can
// hold up a test; nothing asserts that the server is faster than them.
const (
	readyBound = 2 * time.Minute
	stopBound  = 15 * time.Second
)

// Server is a running MinIO server.
type Server struct {
	// Endpoint is the S3 base URL, "http://127.0.0.1:<port>".
	Endpoint string
	// AccessKey and SecretKey are the root credentials, random per server.
	AccessKey string
	SecretKey string
	// KMSKeyID is the name of the static KMS key, "" when the server was
	// started without WithKMS.
	KMSKeyID string

	cmd      *exec.Cmd
	env      []string // the process environment, kept for Up
	logPath  string
	done     chan struct{} // closed when the process has exited
	waitErr  error         // valid after done is closed
	stopOnce sync.Once
	cleanup  func() // removes what the server owned, after it exited
}

// Option configures Start.
type Option func(*config)

type config struct {
	kmsKey string
}

// WithKMS starts the server with a static KMS key named keyName (random key
// material), so that SSE-KMS requests naming that key id succeed. MinIO reads
// it from MINIO_KMS_SECRET_KEY.
func WithKMS(keyName string) Option {
	return func(c *config) { c.kmsKey = keyName }
}

// Start starts a new MinIO server for t, stores its data under t.TempDir and
// stops it when t ends. It calls t.Fatal when the server cannot be built or
// does not become ready.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	dir := t.TempDir()
	s, err := start(t.Context(), dir, c, t.Logf)
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// SharedKMSKey is the KMS key name of the server returned by Shared.
const SharedKMSKey = "miniotest-key"

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the package-wide server, starting it (with WithKMS
// SharedKMSKey) on the first call. It is stopped by Run; tests must not call
// its Stop. Tests sharing it should use their own buckets (NewBucket).
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "miniotest-")
		if err != nil {
			shared.err = err
			return
		}
		// Not t.Context: the server outlives the test that starts it.
		s, err := start(context.Background(), dir, config{kmsKey: SharedKMSKey}, t.Logf)
		if err != nil {
			os.RemoveAll(dir)
			shared.err = err
			return
		}
		s.cleanup = func() { os.RemoveAll(dir) }
		shared.srv = s
	})
	if shared.err != nil {
		t.Fatalf("miniotest: shared server: %v", shared.err)
	}
	return shared.srv
}

// Run runs the tests of m and then stops the server started by Shared, if
// any, and removes its data. It returns m.Run's exit code.
func Run(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	return code
}

// S3Client returns an SDK client for the server: path-style addressing,
// region us-east-1 and the root credentials. optFns are applied last, for
// example to point BaseEndpoint at a proxy in front of the server.
func (s *Server) S3Client(t testing.TB, optFns ...func(*s3.Options)) *s3.Client {
	t.Helper()
	cfg := aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}
	fns := append([]func(*s3.Options){func(o *s3.Options) {
		o.UsePathStyle = true
		o.BaseEndpoint = aws.String(s.Endpoint)
	}}, optFns...)
	return s3.NewFromConfig(cfg, fns...)
}

// MakeBucket creates bucket name, calling t.Fatal on failure.
func (s *Server) MakeBucket(t testing.TB, name string) {
	t.Helper()
	_, err := s.S3Client(t).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("miniotest: create bucket %s: %v", name, err)
	}
}

var bucketSeq atomic.Int64

// NewBucket creates a bucket with a fresh name, unique within the process,
// and returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test-%d-%s", bucketSeq.Add(1), randomHex(4))
	s.MakeBucket(t, name)
	return name
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
