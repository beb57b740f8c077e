package launchertest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/launcher/launchertest"
)

func TestFake(t *testing.T) {
	f := launchertest.New(nil)
	defer f.Close()
	ctx := t.Context()

	op, err := f.Start(ctx, launcher.Request{Count: 3, Actor: "admin"})
	require.NoError(t, err)
	assert.Equal(t, audit.StatusQueued, op.Status)
	done, err := launcher.Wait(ctx, f, op.ID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusSucceeded, done.Status)
	assert.Equal(t, 3, done.ResourcesCompleted)
	st, err := f.Status(ctx)
	require.NoError(t, err)
	assert.Len(t, st.VMs, 3)

	release := f.Hold()
	held, err := f.Start(ctx, launcher.Request{Count: 1})
	require.NoError(t, err)
	c, cancel, err := f.Watch(ctx, held.ID)
	require.NoError(t, err)
	for o := range c {
		if o.Status == audit.StatusRunning {
			break
		}
	}
	cancel()
	st, _ = f.Status(ctx)
	assert.True(t, st.Busy, "busy while a job is held")
	release()
	done, err = launcher.Wait(ctx, f, held.ID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusSucceeded, done.Status)

	f.Fail(errors.New("boom"))
	d, err := f.Start(ctx, launcher.Request{Destroy: true, Actor: "admin"})
	require.NoError(t, err)
	assert.Equal(t, audit.Destroy, d.Action)
	done, err = launcher.Wait(ctx, f, d.ID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusFailed, done.Status)
	assert.Equal(t, "boom", done.Error)

	ops, _, err := f.Ops(ctx, audit.OpQuery{Limit: 2})
	require.NoError(t, err)
	require.Len(t, ops, 2)
	assert.Equal(t, d.ID, ops[0].ID, "newest first")
	_, err = f.Start(ctx, launcher.Request{Count: 0})
	assert.ErrorIs(t, err, launcher.ErrInvalidCount)
	assert.Len(t, f.Requests(), 3)
}

// ExampleFake serves a launch from a double: what an adapter's test does.
func ExampleFake() {
	f := launchertest.New(nil)
	defer f.Close()
	ctx := context.Background()
	op, _ := f.Start(ctx, launcher.Request{Count: 2, Actor: "admin"})
	final, _ := launcher.Wait(ctx, f, op.ID)
	st, _ := f.Status(ctx)
	fmt.Println(final.Status, final.ResourcesCompleted, "of", final.ResourcesTotal, len(st.VMs), "VMs")
	// Output: succeeded 2 of 2 2 VMs
}
