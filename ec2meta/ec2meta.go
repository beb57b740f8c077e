package ec2meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrNotOnEC2 reports that the instance metadata service gave no answer: it
// could not be reached (connection refused, no route, timeout, the caller's
// deadline), it refused to issue an IMDSv2 session token (403 when IMDS is
// turned off for the instance, 404 or 405 from something that is not
// IMDSv2) or kept rejecting it (401 after the last attempt), or the client
// was disabled (AWS_EC2_METADATA_DISABLED=true). The usual cause is running
// off EC2, hence the name; a container on EC2 whose IMDS hop limit is 1 sees
// the same. Callers branch on it to fall back to a flag or an environment
// variable.
//
// An instance metadata service that answers with an HTTP error for a
// metadata path (404 for "mac"), or with content that is not what the path
// holds (a *ContentError), does not match ErrNotOnEC2, and neither does a
// cancelled context.
var ErrNotOnEC2 = errors.New("no answer from the EC2 instance metadata service")

// RequestTimeout is the limit NewClient puts on each HTTP request to the
// instance metadata service, from dialling to reading the body. The service
// is link-local and answers in milliseconds on EC2.
const RequestTimeout = time.Second

// GetMetadataAPIClient is the instance metadata operation SecurityGroup
// needs. *imds.Client satisfies it; NewClient returns one configured for a
// quick probe.
type GetMetadataAPIClient interface {
	GetMetadata(ctx context.Context, params *imds.GetMetadataInput, optFns ...func(*imds.Options)) (*imds.GetMetadataOutput, error)
}

// NewClient returns an IMDSv2 client suited to asking once, possibly off
// EC2, and failing fast there:
//
//   - EnableFallback is aws.FalseTernary: when no session token can be had,
//     requests fail instead of falling back to IMDSv1 (the SDK default
//     falls back, and logs "falling back to IMDSv1" if it has a logger).
//   - Retryer is aws.NopRetryer: one attempt per request (the SDK default
//     is three attempts with backoff).
//   - HTTPClient is the SDK's buildable client limited to RequestTimeout per
//     request; the SDK adds its own 250 ms dial and 500 ms response header
//     timeouts to it.
//   - Logger is logging.Nop and ClientLogMode is 0: nothing is logged.
//
// The endpoint is the SDK's default, http://169.254.169.254, unless the
// environment variable AWS_EC2_METADATA_SERVICE_ENDPOINT names another, and
// AWS_EC2_METADATA_DISABLED=true disables the client (SecurityGroup then
// fails with ErrNotOnEC2 without network traffic). Both are read once, here.
// optFns run last and may override any of this, e.g. o.Endpoint for a test
// server.
//
// The client caches its session token and is safe for concurrent use.
func NewClient(optFns ...func(*imds.Options)) *imds.Client {
	return imds.New(imds.Options{
		HTTPClient:     awshttp.NewBuildableClient().WithTimeout(RequestTimeout),
		Retryer:        aws.NopRetryer{},
		EnableFallback: aws.FalseTernary,
		Logger:         logging.Nop{},
		ClientLogMode:  0,
	}, optFns...)
}

var (
	// securityGroupID is the form of an EC2 security group id: the 8 hex
	// digits of older ids or the 17 of ids since 2016. It is the form
	// launcher checks ALLOCATOR_SG_ID against, so that an id read here is
	// never refused there.
	securityGroupID = regexp.MustCompile(`^sg-([0-9a-f]{8}|[0-9a-f]{17})$`)
	// macAddress is the form IMDS gives "mac" in. It becomes part of the
	// next metadata path, so nothing else (no "/", no "..") may pass.
	macAddress = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
)

// maxContent bounds what is read of one metadata answer. A security group
// list is at most a few hundred bytes.
const maxContent = 4096

// SecurityGroup returns the id of the first security group of the instance's
// primary network interface (device 0), as the instance metadata service
// lists them in network/interfaces/macs/<mac>/security-group-ids.
//
// The list is newline-separated; upstream LabLink likewise takes the first
// group DescribeInstances reports. AWS documents no order for either list,
// so an instance meant for this lookup should be in exactly one security
// group, as the LabLink allocator is. Every id in the list must have the
// form sg- followed by 8 or 17 lowercase hex digits, and the MAC address
// must have the form IMDS gives it in; otherwise SecurityGroup returns a
// *ContentError per offending answer or line (joined with errors.Join), and
// an empty list is a *ContentError too.
//
// A request that gets no answer yields an error matching ErrNotOnEC2. A
// request answered with an HTTP error status yields an error that does not,
// from which errors.As extracts the SDK's *smithyhttp.ResponseError (and its
// HTTPStatusCode). SDK errors are wrapped, never replaced, so errors.As
// finds them (for example *smithy.OperationError), with one exception the
// SDK makes: the cause of a failed session-token request sits behind an
// error without Unwrap, so only its text, in the message, remains. If ctx
// is cancelled first, the error matches context.Canceled and not
// ErrNotOnEC2; if its deadline passes first, the error matches both
// context.DeadlineExceeded and ErrNotOnEC2, since a deadline is how a
// caller says how long to wait for an answer.
//
// A nil c (or a nil *imds.Client) means a client from NewClient.
// SecurityGroup is safe for concurrent use if c is; *imds.Client is.
func SecurityGroup(ctx context.Context, c GetMetadataAPIClient) (string, error) {
	if c == nil {
		c = NewClient()
	} else if ic, ok := c.(*imds.Client); ok && ic == nil {
		c = NewClient()
	}

	mac, err := get(ctx, c, "mac")
	if err != nil {
		return "", err
	}
	if !macAddress.MatchString(mac) {
		return "", &ContentError{Path: "mac", Content: mac, Reason: "not a MAC address"}
	}

	path := "network/interfaces/macs/" + mac + "/security-group-ids"
	list, err := get(ctx, c, path)
	if err != nil {
		return "", err
	}
	var ids []string
	var errs []error
	for line := range strings.Lines(list) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !securityGroupID.MatchString(line) {
			errs = append(errs, &ContentError{Path: path, Content: line, Reason: "not a security group id"})
			continue
		}
		ids = append(ids, line)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	if len(ids) == 0 {
		return "", &ContentError{Path: path, Content: list, Reason: "no security group ids"}
	}
	return ids[0], nil
}

// get returns the trimmed answer for a path below /latest/meta-data/.
func get(ctx context.Context, c GetMetadataAPIClient, path string) (string, error) {
	out, err := c.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", classify(ctx, path, err)
	}
	b, err := io.ReadAll(io.LimitReader(out.Content, maxContent+1))
	// A failed close of a body read to its end says the answer may be cut.
	err = errors.Join(err, out.Content.Close())
	if err != nil {
		return "", classify(ctx, path, fmt.Errorf("read answer: %w", err))
	}
	if len(b) > maxContent {
		return "", &ContentError{Path: path, Content: string(b), Reason: fmt.Sprintf("answer longer than %d bytes", maxContent)}
	}
	return strings.TrimSpace(string(b)), nil
}

// classify wraps an error from asking path, adding ErrNotOnEC2 when no
// answer came back.
//
// The SDK hides why it could not get a session token: with EnableFallback
// off it wraps the cause (a *smithyhttp.RequestSendError, a 403 response, a
// cancellation) in an unexported error without Unwrap, and a 401 after the
// last attempt comes back the same way (retryableError in
// https://github.com/aws/aws-sdk-go-v2/blob/feature/ec2/imds/v1.20.9/feature/ec2/imds/token_provider.go).
// So the test is the other way round: an error that carries an HTTP
// response to a metadata request is an answer; anything else, other than
// cancellation, is none. A response to the token request is no answer
// either, should a later SDK let it through.
func classify(ctx context.Context, path string, err error) error {
	ctxErr := ctx.Err()
	// The SDK's own timeouts run on contexts derived from ctx, so only
	// ctx itself says whether the caller gave up.
	if ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w: %w", ctxErr, err)
	}
	if errors.Is(ctxErr, context.Canceled) {
		return fmt.Errorf("ec2meta: get %s: %w", path, err)
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && !isTokenResponse(respErr) {
		return fmt.Errorf("ec2meta: get %s: %w", path, err)
	}
	return fmt.Errorf("ec2meta: get %s: %w: %w", path, ErrNotOnEC2, err)
}

// isTokenResponse reports whether e is the response to the IMDSv2 token
// request, PUT /latest/api/token.
func isTokenResponse(e *smithyhttp.ResponseError) bool {
	if e.Response == nil || e.Response.Response == nil || e.Response.Request == nil || e.Response.Request.URL == nil {
		return false
	}
	return e.Response.Request.Method == http.MethodPut || strings.HasSuffix(e.Response.Request.URL.Path, "/api/token")
}

// ContentError reports that the instance metadata service answered Path with
// content that is not what Path holds on EC2, e.g. a security group id that
// does not have the form sg-<hex>. It never matches ErrNotOnEC2.
type ContentError struct {
	// Path is the metadata path below /latest/meta-data/, e.g. "mac".
	Path string
	// Content is the offending answer, or line of a list answer, at most
	// 4097 bytes. Error shows it quoted and cut to 64 bytes.
	Content string
	// Reason says what is wrong, e.g. "not a security group id".
	Reason string
}

// maxShown is how much of ContentError.Content its message shows.
const maxShown = 64

func (e *ContentError) Error() string {
	shown := e.Content
	cut := ""
	if len(shown) > maxShown {
		shown, cut = shown[:maxShown], "..."
	}
	return fmt.Sprintf("ec2meta: get %s: %s: %q%s", e.Path, e.Reason, shown, cut)
}
