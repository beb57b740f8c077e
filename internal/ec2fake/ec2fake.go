package ec2fake

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// apiVersion is the EC2 API version the SDK sends in every request.
const apiVersion = "2016-11-15"

// Region is the region of the aws.Config returned by Server.Config.
const Region = "us-west-2"

// GPU describes the accelerators of one kind in an instance type, as EC2's
// GpuDeviceInfo does. MemoryMiB is the memory of one GPU.
type GPU struct {
	Manufacturer, Name string
	Count, MemoryMiB   int
}

type failure struct {
	status int
	code   string
}

type countWaiter struct {
	n  int
	ch chan struct{}
}

// Server is a fake EC2 endpoint. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the server, e.g. http://127.0.0.1:12345.
	URL string

	srv    *httptest.Server
	closed chan struct{}

	mu        sync.Mutex
	types     map[string][]GPU // known instance types; nil slice = no GpuInfo
	unlisted  map[string]bool  // accepted, but answered with an empty list
	instances map[string]Instance
	fails     []failure
	block     <-chan struct{}
	calls     []call // every counted request, in arrival order
	waiters   []countWaiter
	nextID    int
	nextInst  int
}

// call is one counted request: its action and signing region.
type call struct{ action, region string }

// New starts a Server on the loopback interface. It is closed by t.Cleanup;
// requests still held by Block are released with an error first.
func New(t testing.TB) *Server {
	t.Helper()
	s := NewServer()
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a Server outside a test (the benchmark script uses
// it); the caller must Close it.
func NewServer() *Server {
	s := &Server{
		closed:    make(chan struct{}),
		types:     make(map[string][]GPU),
		unlisted:  make(map[string]bool),
		instances: make(map[string]Instance),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close releases requests held by Block with an error and stops the
// server.
func (s *Server) Close() {
	close(s.closed)
	s.srv.Close()
}

// SetInstanceType makes name a known instance type. Without gpus the type has
// no GpuInfo, like a CPU-only type; otherwise each GPU becomes one element of
// GpuInfo.Gpus.
func (s *Server) SetInstanceType(name string, gpus ...GPU) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(gpus) == 0 {
		s.types[name] = nil
	} else {
		s.types[name] = slices.Clone(gpus)
	}
	delete(s.unlisted, name)
}

// SetUnlisted makes the server accept name as an instance type but answer
// with an empty instanceTypeSet, so clients can be tested against an empty
// successful answer.
func (s *Server) SetUnlisted(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.types, name)
	s.unlisted[name] = true
}

// AddDefaults adds a small realistic set of instance types: three NVIDIA GPU
// types, one AMD GPU type and four CPU-only types.
func (s *Server) AddDefaults() {
	s.SetInstanceType("g4dn.xlarge", GPU{Manufacturer: "NVIDIA", Name: "T4", Count: 1, MemoryMiB: 16384})
	s.SetInstanceType("g5.xlarge", GPU{Manufacturer: "NVIDIA", Name: "A10G", Count: 1, MemoryMiB: 24576})
	s.SetInstanceType("g4ad.xlarge", GPU{Manufacturer: "AMD", Name: "Radeon Pro V520", Count: 1, MemoryMiB: 8192})
	s.SetInstanceType("p3.2xlarge", GPU{Manufacturer: "NVIDIA", Name: "V100", Count: 1, MemoryMiB: 16384})
	for _, name := range []string{"t3.medium", "t2.medium", "c5.large", "m5.large"} {
		s.SetInstanceType(name)
	}
}

// FailNext makes the next n requests (of either action) answer with HTTP
// status and an EC2 XML error carrying code, e.g. 500 "InternalError" or 503
// "RequestLimitExceeded". Calls queue up: FailNext(1, 500, "A") followed by
// FailNext(1, 503, "B") fails one request with A, then one with B.
func (s *Server) FailNext(n int, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, failure{status: status, code: code})
	}
}

// Block holds every request (of either action) that arrives from now on
// until ch is closed (or the client gives up, or the server is closed).
// Block(nil) stops holding new requests.
func (s *Server) Block(ch <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = ch
}

// Requests reports how many DescribeInstanceTypes requests arrived, failed
// ones and retries included.
func (s *Server) Requests() int { return s.RequestsOf(actionInstanceTypes) }

// RequestsOf reports how many requests of action ("DescribeInstanceTypes",
// "DescribeInstances") arrived, failed ones and retries included.
func (s *Server) RequestsOf(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.action == action {
			n++
		}
	}
	return n
}

// Regions reports the signing region of each DescribeInstanceTypes request,
// in arrival order.
func (s *Server) Regions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if c.action == actionInstanceTypes {
			out = append(out, c.region)
		}
	}
	return out
}

// Arrived returns a channel that is closed once at least n requests (of
// either action) have arrived. Tests use it with Block to know a request
// is being held, without sleeping.
func (s *Server) Arrived(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if len(s.calls) >= n {
		close(ch)
		return ch
	}
	s.waiters = append(s.waiters, countWaiter{n: n, ch: ch})
	return ch
}

// Config returns an aws.Config for the real SDK that talks to s: static
// credentials, region Region, BaseEndpoint s.URL, and the SDK's standard
// retryer (3 attempts) with a one-millisecond backoff and no retry quota, so
// retries are quick and many tests can share one process.
//
// The config is built by hand rather than with config.LoadDefaultConfig so
// that no environment variable or shared config file of the machine running
// the tests can redirect it; ctx is accepted for symmetry with that function.
func (s *Server) Config(ctx context.Context, t testing.TB) aws.Config {
	t.Helper()
	_ = ctx
	return s.AWSConfig()
}

// AWSConfig is Config outside a test.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
		BaseEndpoint: aws.String(s.URL),
		HTTPClient:   s.srv.Client(),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
					return time.Millisecond, nil
				})
				o.RateLimiter = ratelimit.None
			})
		},
	}
}
