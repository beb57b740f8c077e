// Package ec2fake is an httptest server that speaks enough of the EC2 Query
// API (form-encoded requests, XML answers) for the real aws-sdk-go-v2 EC2
// client to call DescribeInstanceTypes against it.
//
// It exists so tests exercise the SDK's own serializers, deserializers,
// signing and retry logic instead of a Go mock of the client interface.
package ec2fake

import (
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
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

	mu       sync.Mutex
	types    map[string][]GPU // known instance types; nil slice = no GpuInfo
	unlisted map[string]bool  // accepted, but answered with an empty list
	fails    []failure
	block    <-chan struct{}
	requests int
	regions  []string
	waiters  []countWaiter
	nextID   int
}

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
		closed:   make(chan struct{}),
		types:    make(map[string][]GPU),
		unlisted: make(map[string]bool),
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

// FailNext makes the next n requests answer with HTTP status and an EC2 XML
// error carrying code, e.g. 500 "InternalError" or 503
// "RequestLimitExceeded". Calls queue up: FailNext(1, 500, "A") followed by
// FailNext(1, 503, "B") fails one request with A, then one with B.
func (s *Server) FailNext(n int, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.fails = append(s.fails, failure{status: status, code: code})
	}
}

// Block holds every request that arrives from now on until ch is closed (or
// the client gives up, or the server is closed). Block(nil) stops holding new
// requests.
func (s *Server) Block(ch <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = ch
}

// Requests reports how many DescribeInstanceTypes requests arrived, failed
// ones and retries included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Regions reports the signing region of each DescribeInstanceTypes request,
// in arrival order.
func (s *Server) Regions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.regions)
}

// Arrived returns a channel that is closed once at least n
// DescribeInstanceTypes requests have arrived. Tests use it with Block to
// know a request is being held, without sleeping.
func (s *Server) Arrived(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.requests >= n {
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

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeError(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	region, ok := signingRegion(r.Header.Get("Authorization"))
	if !ok {
		s.writeError(w, http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
		return
	}
	action := r.Form.Get("Action")
	if action != "DescribeInstanceTypes" {
		s.writeError(w, http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("The action %s is not valid for this web service.", action))
		return
	}
	if v := r.Form.Get("Version"); v != apiVersion {
		s.writeError(w, http.StatusBadRequest, "InvalidParameterValue",
			fmt.Sprintf("Unsupported API version %q", v))
		return
	}

	s.mu.Lock()
	s.requests++
	s.regions = append(s.regions, region)
	s.waiters = slices.DeleteFunc(s.waiters, func(cw countWaiter) bool {
		if s.requests >= cw.n {
			close(cw.ch)
			return true
		}
		return false
	})
	block := s.block
	s.mu.Unlock()

	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return // the client is gone; nobody reads an answer
		case <-s.closed:
			s.writeError(w, http.StatusServiceUnavailable, "Unavailable", "fake server closed")
			return
		}
	}

	s.mu.Lock()
	var fail *failure
	if len(s.fails) > 0 {
		f := s.fails[0]
		s.fails = s.fails[1:]
		fail = &f
	}
	s.mu.Unlock()
	if fail != nil {
		s.writeError(w, fail.status, fail.code, messageFor(fail.code))
		return
	}

	s.describeInstanceTypes(w, r)
}

func (s *Server) describeInstanceTypes(w http.ResponseWriter, r *http.Request) {
	names := indexedValues(r, "InstanceType")

	s.mu.Lock()
	var items []instanceTypeItem
	var unknown []string
	if len(names) == 0 {
		// Without a list EC2 describes every type; the fake has no pagination.
		for _, name := range slices.Sorted(maps.Keys(s.types)) {
			items = append(items, newItem(name, s.types[name]))
		}
	}
	for _, name := range names {
		gpus, known := s.types[name]
		switch {
		case known:
			items = append(items, newItem(name, gpus))
		case s.unlisted[name]:
		default:
			unknown = append(unknown, name)
		}
	}
	s.mu.Unlock()

	if len(unknown) > 0 {
		// EC2 fails the whole request when any requested type is unknown.
		s.writeError(w, http.StatusBadRequest, "InvalidInstanceType",
			fmt.Sprintf("The following supplied instance types do not exist: [%s]", strings.Join(unknown, ", ")))
		return
	}

	resp := describeInstanceTypesResponse{
		XMLNS:         "http://ec2.amazonaws.com/doc/" + apiVersion + "/",
		RequestID:     s.requestID(),
		InstanceTypes: instanceTypeSet{Items: items},
	}
	w.Header().Set("x-amzn-RequestId", resp.RequestID)
	writeXML(w, http.StatusOK, resp)
}

// indexedValues returns the values of prefix.1, prefix.2, ... up to the first
// missing index, the way the Query protocol flattens a list.
func indexedValues(r *http.Request, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		key := prefix + "." + strconv.Itoa(i)
		if _, ok := r.Form[key]; !ok {
			return out
		}
		out = append(out, r.Form.Get(key))
	}
}

// signingRegion extracts the region from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/ec2/aws4_request, ...".
func signingRegion(auth string) (string, bool) {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return "", false
	}
	_, cred, ok := strings.Cut(rest, "Credential=")
	if !ok {
		return "", false
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[3] != "ec2" {
		return "", false
	}
	return parts[2], true
}

func messageFor(code string) string {
	switch code {
	case "InternalError":
		return "An internal error has occurred."
	case "RequestLimitExceeded":
		return "Request limit exceeded."
	case "Unavailable":
		return "The server is overloaded and cannot handle the request."
	}
	return "fake failure " + code
}

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", s.nextID)
}

func (s *Server) writeError(w http.ResponseWriter, status int, code, message string) {
	resp := errorResponse{RequestID: s.requestID()}
	resp.Errors = []apiError{{Code: code, Message: message}}
	writeXML(w, status, resp)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

func newItem(name string, gpus []GPU) instanceTypeItem {
	item := instanceTypeItem{InstanceType: name}
	if len(gpus) == 0 {
		return item
	}
	info := &gpuInfo{}
	for _, g := range gpus {
		info.GPUs = append(info.GPUs, gpuDevice{
			Name:         g.Name,
			Manufacturer: g.Manufacturer,
			Count:        g.Count,
			MemoryInfo:   gpuMemory{SizeInMiB: g.MemoryMiB},
		})
		info.TotalMemoryMiB += g.Count * g.MemoryMiB
	}
	item.GPUInfo = info
	return item
}

// The XML shapes below follow the element names the SDK's ec2query
// deserializer looks for (lists are <item> elements, names are lowerCamel).

type describeInstanceTypesResponse struct {
	XMLName       xml.Name        `xml:"DescribeInstanceTypesResponse"`
	XMLNS         string          `xml:"xmlns,attr"`
	RequestID     string          `xml:"requestId"`
	InstanceTypes instanceTypeSet `xml:"instanceTypeSet"`
}

// instanceTypeSet is its own element so an empty answer still carries
// <instanceTypeSet/>, as EC2's does.
type instanceTypeSet struct {
	Items []instanceTypeItem `xml:"item"`
}

type instanceTypeItem struct {
	InstanceType string   `xml:"instanceType"`
	GPUInfo      *gpuInfo `xml:"gpuInfo,omitempty"`
}

type gpuInfo struct {
	GPUs           []gpuDevice `xml:"gpus>item"`
	TotalMemoryMiB int         `xml:"totalGpuMemoryInMiB"`
}

type gpuDevice struct {
	Name         string    `xml:"name"`
	Manufacturer string    `xml:"manufacturer"`
	Count        int       `xml:"count"`
	MemoryInfo   gpuMemory `xml:"memoryInfo"`
}

type gpuMemory struct {
	SizeInMiB int `xml:"sizeInMiB"`
}

type errorResponse struct {
	XMLName   xml.Name   `xml:"Response"`
	Errors    []apiError `xml:"Errors>Error"`
	RequestID string     `xml:"RequestID"`
}

type apiError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}
