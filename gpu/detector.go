package gpu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// Options are the optional settings of a Detector. The zero value means the
// defaults.
type Options struct {
	// Region is the region the API is asked in, passed per call, and part of
	// the cache key. Default "": the client's own region (cache key "").
	Region string
}

// Detector answers GPU questions from EC2's DescribeInstanceTypes.
//
// A Detector is safe for concurrent use. Successful answers are cached for
// the life of the Detector, keyed by (Options.Region, instance type); errors
// are not cached. Concurrent Detect calls for the same key share one API
// call.
type Detector struct {
	client ec2.DescribeInstanceTypesAPIClient
	region string

	mu    sync.Mutex
	cache map[cacheKey]Info
	calls map[cacheKey]*call

	// testHookJoined, when set, is called each time a Detect call has
	// registered as a waiter on a shared API call.
	testHookJoined func(instanceType string)
}

type cacheKey struct{ region, instanceType string }

// call is one in-flight API call, shared by every Detect waiting on it.
type call struct {
	done    chan struct{} // closed when info and err are set
	info    Info
	err     error
	waiters int                // Detect calls still waiting; guarded by Detector.mu
	cancel  context.CancelFunc // stops the API call once nobody waits
}

// NewDetector returns a Detector that asks client. A nil opts means the
// defaults.
func NewDetector(client ec2.DescribeInstanceTypesAPIClient, opts *Options) *Detector {
	d := &Detector{
		client: client,
		cache:  make(map[cacheKey]Info),
		calls:  make(map[cacheKey]*call),
	}
	if opts != nil {
		d.region = opts.Region
	}
	return d
}

// Detect returns the GPUs of instanceType, from the cache or from one
// DescribeInstanceTypes call.
//
// Any API error is returned, wrapped as "gpu: describe instance type T: ..."
// with the SDK error kept for errors.As (for example smithy.APIError); it is
// never turned into an answer without GPUs. An instance type EC2 does not
// know ("InvalidInstanceType", or an empty answer) yields an error matching
// ErrUnknownInstanceType.
//
// If ctx ends before the answer arrives, Detect returns at once with an
// error matching ctx.Err() (errors.Is(err, context.Canceled) after cancel).
// Other callers sharing the same API call still get their answer: the call
// runs detached from any one caller's cancellation and is only stopped once
// every caller waiting on it has gone.
func (d *Detector) Detect(ctx context.Context, instanceType string) (Info, error) {
	if instanceType == "" {
		return Info{}, fmt.Errorf("gpu: empty instance type: %w", ErrUnknownInstanceType)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("gpu: describe instance type %s: %w", instanceType, err)
	}
	key := cacheKey{region: d.region, instanceType: instanceType}

	d.mu.Lock()
	if info, ok := d.cache[key]; ok {
		d.mu.Unlock()
		return info.clone(), nil
	}
	c, ok := d.calls[key]
	if !ok {
		// The shared call keeps the first caller's values (tracing, logging)
		// but not its cancellation or deadline; the SDK's own timeouts and
		// retry limits still bound it, and it is cancelled when nobody waits.
		callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call{done: make(chan struct{}), cancel: cancel}
		d.calls[key] = c
		go d.run(callCtx, key, instanceType, c)
	}
	c.waiters++
	d.mu.Unlock()
	if d.testHookJoined != nil {
		d.testHookJoined(instanceType)
	}

	select {
	case <-c.done:
		if c.err != nil {
			return Info{}, c.err
		}
		return c.info.clone(), nil
	case <-ctx.Done():
		select {
		case <-c.done:
			// The answer arrived together with the cancellation; prefer it.
			if c.err == nil {
				return c.info.clone(), nil
			}
		default:
		}
		d.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
			// A later Detect must start afresh rather than join a call that
			// is being cancelled.
			if d.calls[key] == c {
				delete(d.calls, key)
			}
		}
		d.mu.Unlock()
		return Info{}, fmt.Errorf("gpu: describe instance type %s: %w", instanceType, ctx.Err())
	}
}

// run performs the API call for c and publishes its result.
func (d *Detector) run(ctx context.Context, key cacheKey, instanceType string, c *call) {
	info, err := d.describe(ctx, instanceType)
	d.mu.Lock()
	c.info, c.err = info, err
	if err == nil {
		d.cache[key] = info
	}
	if d.calls[key] == c {
		delete(d.calls, key)
	}
	d.mu.Unlock()
	c.cancel()
	close(c.done)
}

func (d *Detector) describe(ctx context.Context, instanceType string) (Info, error) {
	region := d.region
	out, err := d.client.DescribeInstanceTypes(ctx,
		&ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{types.InstanceType(instanceType)}},
		func(o *ec2.Options) {
			if d.region != "" {
				o.Region = d.region
			}
			// Option funcs run on the per-call copy of the client's options,
			// so this is the region the request is actually signed for.
			region = o.Region
		})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidInstanceType" {
			return Info{}, fmt.Errorf("gpu: describe instance type %s: %w: %w", instanceType, ErrUnknownInstanceType, err)
		}
		return Info{}, fmt.Errorf("gpu: describe instance type %s: %w", instanceType, err)
	}
	for _, it := range out.InstanceTypes {
		if string(it.InstanceType) != instanceType {
			continue
		}
		return Info{
			InstanceType: instanceType,
			Region:       region,
			GPUs:         fromAPI(it.GpuInfo),
			Source:       SourceAPI,
		}, nil
	}
	return Info{}, fmt.Errorf("gpu: describe instance type %s: not in the answer: %w", instanceType, ErrUnknownInstanceType)
}

func fromAPI(gi *types.GpuInfo) []GPU {
	if gi == nil || len(gi.Gpus) == 0 {
		return nil
	}
	gpus := make([]GPU, 0, len(gi.Gpus))
	for _, g := range gi.Gpus {
		var mem int32
		if g.MemoryInfo != nil {
			mem = aws.ToInt32(g.MemoryInfo.SizeInMiB)
		}
		gpus = append(gpus, GPU{
			Manufacturer: aws.ToString(g.Manufacturer),
			Name:         aws.ToString(g.Name),
			Count:        int(aws.ToInt32(g.Count)),
			MemoryMiB:    int(mem),
		})
	}
	return gpus
}

// clone returns i with its own copy of GPUs, so callers cannot change the
// cached answer.
func (i Info) clone() Info {
	i.GPUs = slices.Clone(i.GPUs)
	return i
}
