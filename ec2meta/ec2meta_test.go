package ec2meta_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/ec2meta"
)

const (
	testToken = "AQAEAtest-session-token=="
	testMAC   = "0e:1f:2a:3b:4c:5d"
	sgPath    = "network/interfaces/macs/" + testMAC + "/security-group-ids"

	// hangLimit bounds how long a test waits for SecurityGroup before it
	// calls it a hang. It is far above any timeout under test.
	hangLimit = 10 * time.Second
)

// answer is what the fake IMDS returns for one metadata path.
type answer struct {
	status int // 0 means 200
	body   string
}

// fakeIMDS speaks the IMDSv2 protocol: PUT /latest/api/token with
// X-aws-ec2-metadata-token-ttl-seconds issues testToken, and GET
// /latest/meta-data/<path> answers only with X-aws-ec2-metadata-token equal
// to it (401 otherwise), from meta (404 for a path not in it).
type fakeIMDS struct {
	tokenStatus int               // 0: issue tokens; else answer the PUT with it
	hang        bool              // never answer the token request
	rejectToken bool              // issue a token that GETs then refuse
	meta        map[string]answer // path below /latest/meta-data/

	arrived chan struct{} // receives once per request, if not nil
	stop    chan struct{} // closed at cleanup to release hanging handlers

	mu   sync.Mutex
	seen []string // "METHOD path auth", in arrival order
}

func (f *fakeIMDS) record(r *http.Request, auth string) {
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path+" "+auth)
	f.mu.Unlock()
	if f.arrived != nil {
		select {
		case f.arrived <- struct{}{}:
		default:
		}
	}
}

func (f *fakeIMDS) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/latest/api/token":
		ttl := r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds")
		f.record(r, "ttl="+ttl)
		if r.Method != http.MethodPut {
			http.Error(w, "", http.StatusMethodNotAllowed)
			return
		}
		if n, err := strconv.Atoi(ttl); err != nil || n < 1 || n > 21600 {
			http.Error(w, "", http.StatusBadRequest)
			return
		}
		if f.hang {
			select {
			case <-r.Context().Done():
			case <-f.stop:
			}
			return
		}
		if f.tokenStatus != 0 {
			http.Error(w, "", f.tokenStatus)
			return
		}
		w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", ttl)
		if f.rejectToken {
			fmt.Fprint(w, "not-"+testToken)
			return
		}
		fmt.Fprint(w, testToken)

	case strings.HasPrefix(r.URL.Path, "/latest/meta-data/"):
		auth := "token"
		switch got := r.Header.Get("X-aws-ec2-metadata-token"); got {
		case testToken:
		case "":
			auth = "no-token"
		default:
			auth = "bad-token"
		}
		f.record(r, auth)
		if auth != "token" {
			http.Error(w, "", http.StatusUnauthorized)
			return
		}
		a, ok := f.meta[strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if a.status != 0 {
			http.Error(w, a.body, a.status)
			return
		}
		fmt.Fprint(w, a.body)

	default:
		f.record(r, "")
		http.NotFound(w, r)
	}
}

// start serves f until the test ends and returns its URL.
func (f *fakeIMDS) start(t *testing.T) string {
	t.Helper()
	f.stop = make(chan struct{})
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(f.stop) }) // runs first: frees hanging handlers
	return srv.URL
}

// closedURL returns the URL of a listener that is already closed, so that
// connecting is refused as off EC2.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// clients are the two ways a caller builds the client: NewClient, and the
// SDK's defaults (IMDSv1 fallback, three attempts, 5 s timeout).
var clients = []struct {
	name string
	new  func(endpoint string) ec2meta.GetMetadataAPIClient
}{
	{"NewClient", func(endpoint string) ec2meta.GetMetadataAPIClient {
		return ec2meta.NewClient(func(o *imds.Options) { o.Endpoint = endpoint })
	}},
	{"imds.New", func(endpoint string) ec2meta.GetMetadataAPIClient {
		return imds.New(imds.Options{Endpoint: endpoint})
	}},
}

var (
	okReqs = []string{
		"PUT /latest/api/token ttl=300",
		"GET /latest/meta-data/mac token",
		"GET /latest/meta-data/" + sgPath + " token",
	}
	macOnlyReqs = okReqs[:2]
)

// run calls SecurityGroup in a goroutine and fails the test if it has not
// returned within hangLimit.
func run(t *testing.T, ctx context.Context, c ec2meta.GetMetadataAPIClient) (string, error) {
	t.Helper()
	type result struct {
		sg  string
		err error
	}
	done := make(chan result, 1)
	go func() {
		sg, err := ec2meta.SecurityGroup(ctx, c)
		done <- result{sg, err}
	}()
	select {
	case r := <-done:
		return r.sg, r.err
	case <-time.After(hangLimit):
		t.Fatalf("SecurityGroup did not return within %v", hangLimit)
		return "", nil
	}
}

func TestSecurityGroup(t *testing.T) {
	t.Parallel()

	sgs := func(body string) map[string]answer {
		return map[string]answer{"mac": {body: testMAC}, sgPath: {body: body}}
	}
	long := strings.Repeat("sg-0123456789abcdef0\n", 250) // 5250 bytes

	tests := []struct {
		name    string
		imds    *fakeIMDS // nil: a closed listener
		timeout time.Duration
		cancel  bool // cancel ctx once the first request has arrived
		only    string

		want        string
		wantIs      []error
		wantNotIs   []error
		wantStatus  int                    // of the *smithyhttp.ResponseError, if any
		wantContent []ec2meta.ContentError // every ContentError, in order
		wantInMsg   []string
		wantReqs    []string // compared for NewClient; nil: not compared
	}{
		{
			name:      "one group",
			imds:      &fakeIMDS{meta: sgs("sg-0123456789abcdef0")},
			want:      "sg-0123456789abcdef0",
			wantNotIs: []error{ec2meta.ErrNotOnEC2},
			wantReqs:  okReqs,
		},
		{
			name:     "one group with trailing newline and old 8-digit id",
			imds:     &fakeIMDS{meta: sgs("sg-1a2b3c4d\n")},
			want:     "sg-1a2b3c4d",
			wantReqs: okReqs,
		},
		{
			name:     "several groups: first wins",
			imds:     &fakeIMDS{meta: sgs("sg-0aaaaaaaaaaaaaaaa\nsg-0bbbbbbbbbbbbbbbb\nsg-0cccccccccccccccc")},
			want:     "sg-0aaaaaaaaaaaaaaaa",
			wantReqs: okReqs,
		},
		{
			name: "several groups with CRLF and blank lines",
			imds: &fakeIMDS{meta: sgs("\r\nsg-0aaaaaaaaaaaaaaaa\r\n\r\nsg-0bbbbbbbbbbbbbbbb\r\n")},
			want: "sg-0aaaaaaaaaaaaaaaa",
		},
		{
			name:        "empty list",
			imds:        &fakeIMDS{meta: sgs("")},
			wantNotIs:   []error{ec2meta.ErrNotOnEC2},
			wantContent: []ec2meta.ContentError{{Path: sgPath, Content: "", Reason: "no security group ids"}},
			wantReqs:    okReqs,
		},
		{
			name:        "blank list",
			imds:        &fakeIMDS{meta: sgs("\n \n")},
			wantContent: []ec2meta.ContentError{{Path: sgPath, Content: "", Reason: "no security group ids"}},
		},
		{
			name:        "malformed id",
			imds:        &fakeIMDS{meta: sgs("sg-; rm -rf /")},
			wantNotIs:   []error{ec2meta.ErrNotOnEC2},
			wantContent: []ec2meta.ContentError{{Path: sgPath, Content: "sg-; rm -rf /", Reason: "not a security group id"}},
			wantInMsg:   []string{`"sg-; rm -rf /"`, sgPath},
			wantReqs:    okReqs,
		},
		{
			name: "malformed ids after a good one: all reported",
			imds: &fakeIMDS{meta: sgs("sg-0aaaaaaaaaaaaaaaa\nSG-0BBBBBBBBBBBBBBBB\nsg-0123456789abcdef01\nsg-0123456789")},
			wantContent: []ec2meta.ContentError{
				{Path: sgPath, Content: "SG-0BBBBBBBBBBBBBBBB", Reason: "not a security group id"},
				{Path: sgPath, Content: "sg-0123456789abcdef01", Reason: "not a security group id"},
				{Path: sgPath, Content: "sg-0123456789", Reason: "not a security group id"},
			},
		},
		{
			name:        "answer too long: cut in the message",
			imds:        &fakeIMDS{meta: sgs(long)},
			wantContent: []ec2meta.ContentError{{Path: sgPath, Content: long[:4097], Reason: "answer longer than 4096 bytes"}},
			wantInMsg:   []string{`"` + strings.ReplaceAll(long[:64], "\n", `\n`) + `"...`},
		},
		{
			name: "malformed mac is not used in a path",
			imds: &fakeIMDS{meta: map[string]answer{
				"mac":                          {body: "../../user-data"},
				"user-data/security-group-ids": {body: "sg-0123456789abcdef0"},
			}},
			wantContent: []ec2meta.ContentError{{Path: "mac", Content: "../../user-data", Reason: "not a MAC address"}},
			wantReqs:    macOnlyReqs,
		},
		{
			name:       "mac missing (404)",
			imds:       &fakeIMDS{meta: map[string]answer{}},
			wantNotIs:  []error{ec2meta.ErrNotOnEC2},
			wantStatus: http.StatusNotFound,
			wantInMsg:  []string{"ec2meta: get mac: "},
			wantReqs:   macOnlyReqs,
		},
		{
			name:       "security groups missing (404)",
			imds:       &fakeIMDS{meta: map[string]answer{"mac": {body: testMAC}}},
			wantNotIs:  []error{ec2meta.ErrNotOnEC2},
			wantStatus: http.StatusNotFound,
			wantInMsg:  []string{"ec2meta: get " + sgPath + ": "},
			wantReqs:   okReqs,
		},
		{
			name:       "metadata server error (500) is an answer",
			imds:       &fakeIMDS{meta: map[string]answer{"mac": {status: http.StatusInternalServerError}}},
			only:       "NewClient", // the SDK default retries with backoff
			wantNotIs:  []error{ec2meta.ErrNotOnEC2},
			wantStatus: http.StatusInternalServerError,
			wantReqs:   macOnlyReqs,
		},
		{
			name: "session token rejected (401)",
			imds: &fakeIMDS{rejectToken: true, meta: sgs("sg-0123456789abcdef0")},
			// The SDK hides the 401 as it hides token failures; see
			// ErrNotOnEC2. The SDK default would fetch a new token and retry.
			only:     "NewClient",
			wantIs:   []error{ec2meta.ErrNotOnEC2},
			wantReqs: []string{"PUT /latest/api/token ttl=300", "GET /latest/meta-data/mac bad-token"},
		},
		{
			name:   "server down",
			imds:   nil,
			wantIs: []error{ec2meta.ErrNotOnEC2},
		},
		{
			name: "token refused (403, IMDS turned off)",
			imds: &fakeIMDS{tokenStatus: http.StatusForbidden, meta: sgs("sg-0123456789abcdef0")},
			// The SDK default then tries IMDSv1, which this server answers
			// with 401, three times with backoff.
			only:     "NewClient",
			wantIs:   []error{ec2meta.ErrNotOnEC2},
			wantReqs: []string{"PUT /latest/api/token ttl=300"}, // no IMDSv1 GET
		},
		{
			name:      "server never answers, 200 ms deadline",
			imds:      &fakeIMDS{hang: true},
			timeout:   200 * time.Millisecond,
			wantIs:    []error{context.DeadlineExceeded, ec2meta.ErrNotOnEC2},
			wantNotIs: []error{context.Canceled},
		},
		{
			name: "server never answers, no deadline: NewClient gives up alone",
			imds: &fakeIMDS{hang: true},
			only: "NewClient",
			// The SDK's 500 ms response header timeout fires, not ctx.
			wantIs:    []error{ec2meta.ErrNotOnEC2},
			wantNotIs: []error{context.Canceled},
			wantReqs:  []string{"PUT /latest/api/token ttl=300"},
		},
		{
			name:      "cancelled while waiting for the token",
			imds:      &fakeIMDS{hang: true, arrived: make(chan struct{}, 1)},
			cancel:    true,
			wantIs:    []error{context.Canceled},
			wantNotIs: []error{ec2meta.ErrNotOnEC2, context.DeadlineExceeded},
		},
	}

	for _, tt := range tests {
		for _, cl := range clients {
			if tt.only != "" && tt.only != cl.name {
				continue
			}
			t.Run(tt.name+"/"+cl.name, func(t *testing.T) {
				t.Parallel()
				var f *fakeIMDS
				endpoint := ""
				if tt.imds == nil {
					endpoint = closedURL(t)
				} else {
					// Each client variant needs its own server state.
					f = &fakeIMDS{tokenStatus: tt.imds.tokenStatus, hang: tt.imds.hang, rejectToken: tt.imds.rejectToken, meta: tt.imds.meta}
					if tt.imds.arrived != nil {
						f.arrived = make(chan struct{}, 1)
					}
					endpoint = f.start(t)
				}

				ctx := t.Context()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				if tt.cancel {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
					go func() {
						select {
						case <-f.arrived:
							cancel()
						case <-ctx.Done():
						}
					}()
				}

				sg, err := run(t, ctx, cl.new(endpoint))

				if tt.want != "" {
					require.NoError(t, err, "case %q", tt.name)
					assert.Equal(t, tt.want, sg, "case %q", tt.name)
				} else {
					require.Error(t, err, "case %q", tt.name)
					assert.Empty(t, sg, "case %q: no id with an error", tt.name)
				}
				for _, target := range tt.wantIs {
					assert.ErrorIs(t, err, target, "case %q", tt.name)
				}
				for _, target := range tt.wantNotIs {
					assert.NotErrorIs(t, err, target, "case %q", tt.name)
				}

				var respErr *smithyhttp.ResponseError
				if tt.wantStatus != 0 {
					require.ErrorAs(t, err, &respErr, "case %q: SDK error kept", tt.name)
					assert.Equal(t, tt.wantStatus, respErr.HTTPStatusCode(), "case %q", tt.name)
				}
				if err != nil && tt.want == "" && len(tt.wantContent) == 0 {
					var opErr *smithy.OperationError
					assert.ErrorAs(t, err, &opErr, "case %q: SDK error kept", tt.name)
				}

				assert.Equal(t, tt.wantContent, contentErrors(err), "case %q", tt.name)
				if len(tt.wantContent) > 0 {
					assert.NotErrorIs(t, err, ec2meta.ErrNotOnEC2, "case %q", tt.name)
					var ce *ec2meta.ContentError
					assert.ErrorAs(t, err, &ce, "case %q", tt.name)
				}
				for _, s := range tt.wantInMsg {
					assert.Contains(t, err.Error(), s, "case %q", tt.name)
				}

				if f == nil {
					return
				}
				seen := f.requests()
				if tt.wantReqs != nil && cl.name == "NewClient" {
					assert.Equal(t, tt.wantReqs, seen, "case %q: requests", tt.name)
				}
				for _, r := range seen {
					if strings.HasPrefix(r, "PUT ") {
						assert.Equal(t, "PUT /latest/api/token ttl=300", r, "case %q: token request with TTL", tt.name)
					}
					if cl.name == "NewClient" {
						assert.NotContains(t, r, "no-token", "case %q: NewClient never falls back to IMDSv1", tt.name)
					}
				}
			})
		}
	}
}

// contentErrors returns every *ContentError in err's tree, in order.
func contentErrors(err error) []ec2meta.ContentError {
	var out []ec2meta.ContentError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *ec2meta.ContentError:
			out = append(out, *e)
		case interface{ Unwrap() []error }:
			for _, e := range e.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

func TestSecurityGroupCancelledBefore(t *testing.T) {
	t.Parallel()
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeIMDS{meta: map[string]answer{"mac": {body: testMAC}, sgPath: {body: "sg-0123456789abcdef0"}}}
			c := cl.new(f.start(t))
			ctx, cancel := context.WithCancel(t.Context())
			cancel()

			sg, err := run(t, ctx, c)
			require.Error(t, err, cl.name)
			assert.Empty(t, sg, cl.name)
			assert.ErrorIs(t, err, context.Canceled, cl.name)
			assert.NotErrorIs(t, err, ec2meta.ErrNotOnEC2, cl.name)
		})
	}
}

// TestSecurityGroupTokenCached checks that one client asks for one token
// across calls, and that concurrent calls are safe.
func TestSecurityGroupTokenCached(t *testing.T) {
	t.Parallel()
	f := &fakeIMDS{meta: map[string]answer{"mac": {body: testMAC}, sgPath: {body: "sg-0123456789abcdef0"}}}
	c := ec2meta.NewClient(func(o *imds.Options) { o.Endpoint = f.start(t) })

	_, err := ec2meta.SecurityGroup(t.Context(), c) // fetches the token
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			sg, err := ec2meta.SecurityGroup(t.Context(), c)
			assert.NoError(t, err)
			assert.Equal(t, "sg-0123456789abcdef0", sg)
		})
	}
	wg.Wait()

	puts := 0
	for _, r := range f.requests() {
		if strings.HasPrefix(r, "PUT ") {
			puts++
		}
	}
	assert.Equal(t, 1, puts, "token requests for 5 lookups: %q", f.requests())
	assert.Len(t, f.requests(), 1+5*2)
}

// The tests below set environment variables, so they cannot run in parallel.

func TestSecurityGroupNilClientUsesNewClient(t *testing.T) {
	f := &fakeIMDS{meta: map[string]answer{"mac": {body: testMAC}, sgPath: {body: "sg-0123456789abcdef0"}}}
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f.start(t))

	for name, c := range map[string]ec2meta.GetMetadataAPIClient{
		"nil interface":    nil,
		"nil *imds.Client": (*imds.Client)(nil),
	} {
		sg, err := run(t, t.Context(), c)
		require.NoError(t, err, name)
		assert.Equal(t, "sg-0123456789abcdef0", sg, name)
	}
	assert.Equal(t, append(append([]string(nil), okReqs...), okReqs...), f.requests())
}

func TestSecurityGroupMetadataDisabled(t *testing.T) {
	f := &fakeIMDS{meta: map[string]answer{"mac": {body: testMAC}, sgPath: {body: "sg-0123456789abcdef0"}}}
	endpoint := f.start(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	_, err := run(t, t.Context(), ec2meta.NewClient(func(o *imds.Options) { o.Endpoint = endpoint }))
	require.Error(t, err)
	assert.ErrorIs(t, err, ec2meta.ErrNotOnEC2)
	assert.Empty(t, f.requests(), "a disabled client sends nothing")
}

func TestContentErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  ec2meta.ContentError
		want string
	}{
		{
			name: "short content quoted",
			err:  ec2meta.ContentError{Path: "mac", Content: "x\ny", Reason: "not a MAC address"},
			want: `ec2meta: get mac: not a MAC address: "x\ny"`,
		},
		{
			name: "long content cut at 64 bytes",
			err:  ec2meta.ContentError{Path: "p", Content: strings.Repeat("a", 65), Reason: "r"},
			want: `ec2meta: get p: r: "` + strings.Repeat("a", 64) + `"...`,
		},
		{
			name: "64 bytes not cut",
			err:  ec2meta.ContentError{Path: "p", Content: strings.Repeat("a", 64), Reason: "r"},
			want: `ec2meta: get p: r: "` + strings.Repeat("a", 64) + `"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.err.Error(), "case %q", tt.name)
			assert.False(t, errors.Is(&tt.err, ec2meta.ErrNotOnEC2), "case %q", tt.name)
		})
	}
}
