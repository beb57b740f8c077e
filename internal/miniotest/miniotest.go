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

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lablink-go/lablink/internal/buildcache"
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

// Binary returns the path of a MinIO server binary: $MINIO_PATH when set,
// else "minio" found on PATH, else the pinned version built once into the
// build cache.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv("MINIO_PATH"); p != "" {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("MINIO_PATH: %w", err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("MINIO_PATH %s is not an executable file", p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	return buildcache.Ensure(ctx, "minio-"+Version, build)
}

// build installs the pinned module with "go install" outside any module, so
// that neither this repository's go.mod nor a go.work file takes part.
func build(ctx context.Context, out string) error {
	work, err := os.MkdirTemp("", "miniotest-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// GOBIN next to out, so that the final move is a rename on one file system.
	gobin, err := os.MkdirTemp(filepath.Dir(out), "gobin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gobin)

	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	cmd.Dir = work
	// Later entries win in os/exec, so these override the inherited ones
	// while GOPROXY, GOMODCACHE, GOCACHE and the rest are kept.
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod", "GOWORK=off")
	var output bytes.Buffer
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s@%s: %w\n%s", Module, Version, err, tail(output.Bytes(), 4000))
	}
	return os.Rename(filepath.Join(gobin, "minio"), out)
}

func start(ctx context.Context, dir string, c config, logf func(string, ...any)) (*Server, error) {
	t0 := time.Now()
	bin, err := Binary(ctx)
	if err != nil {
		return nil, err
	}
	if d := time.Since(t0); d > 5*time.Second {
		logf("miniotest: obtained %s in %v", bin, d.Round(time.Second))
	}
	// A free port found by listening on :0 can be taken by someone else
	// before MinIO binds it; a few attempts make that race harmless.
	var lastErr error
	for attempt := range 3 {
		s, err := launch(ctx, bin, filepath.Join(dir, fmt.Sprint("run", attempt)), c)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	return nil, lastErr
}

var errPortInUse = errors.New("port in use")

func launch(ctx context.Context, bin, dir string, c config) (*Server, error) {
	data := filepath.Join(dir, "data")
	certs := filepath.Join(dir, "certs")
	for _, d := range []string{data, certs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	s := &Server{
		Endpoint:  "http://" + addr,
		AccessKey: "mt" + randomHex(8),
		SecretKey: randomHex(20),
		logPath:   filepath.Join(dir, "minio.log"),
		done:      make(chan struct{}),
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	env := []string{
		"MINIO_ROOT_USER=" + s.AccessKey,
		"MINIO_ROOT_PASSWORD=" + s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"CI=on",
	}
	if c.kmsKey != "" {
		key := make([]byte, 32)
		rand.Read(key)
		env = append(env, "MINIO_KMS_SECRET_KEY="+c.kmsKey+":"+base64.StdEncoding.EncodeToString(key))
		s.KMSKeyID = c.kmsKey
	}
	s.cmd = exec.Command(bin, "server", data,
		"--address", addr,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--certs-dir", certs)
	s.cmd.Env = append(inheritedEnv(), env...)
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		log, _ := os.ReadFile(s.logPath)
		if bytes.Contains(log, []byte("address already in use")) {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return nil, fmt.Errorf("%w\nminio log:\n%s", err, tail(log, 4000))
	}
	return s, nil
}

// inheritedEnv is the test's environment without MINIO_ variables, which
// could otherwise change how the server behaves.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	return env
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyBound)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	url := s.Endpoint + "/minio/health/live"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("minio exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("minio not ready at %s: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the server: SIGTERM, then SIGKILL if it has not exited within a
// bound. It waits for the process to exit and may be called more than once.
// Use it to test what clients do when the server is down; never call it on
// the server returned by Shared.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(stopBound):
			s.cmd.Process.Kill()
			<-s.done
		}
		if s.cleanup != nil {
			s.cleanup()
		}
	})
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

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
