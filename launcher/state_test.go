package launcher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/plancheck"
)

// createdTail infers the prior VMs of a plan read from its event stream
// only when the creates are the tail [n, total) of one counted resource;
// every other shape is left to the saved plan.
func TestCreatedTail(t *testing.T) {
	vm := func(addr string) plancheck.Change {
		typ, name := "terraform_data", "lablink_vm"
		if len(addr) > 12 && addr[:12] == "aws_instance" {
			typ = "aws_instance"
		}
		return plancheck.Change{Address: addr, Mode: "managed", Type: typ, Name: name, Actions: []string{"create"}}
	}
	other := plancheck.Change{Address: "terraform_data.other[0]", Mode: "managed", Type: "terraform_data", Name: "other", Actions: []string{"create"}}
	read := plancheck.Change{Address: "data.terraform_data.lablink_vm", Mode: "data", Type: "terraform_data", Name: "lablink_vm", Actions: []string{"read"}}
	child := plancheck.Change{Address: "module.m.terraform_data.lablink_vm[0]", Mode: "managed", Type: "terraform_data", Name: "lablink_vm", Actions: []string{"create"}}
	for _, tt := range []struct {
		name    string
		changes []plancheck.Change
		total   int
		prior   int
		ok      bool
	}{
		{"no VM created: left to the saved plan", nil, 3, 0, false},
		{"only other resources", []plancheck.Change{other, read}, 3, 0, false},
		{"all new", []plancheck.Change{vm("terraform_data.lablink_vm[0]"), vm("terraform_data.lablink_vm[1]")}, 2, 0, true},
		{"the tail", []plancheck.Change{vm("terraform_data.lablink_vm[4]"), vm("terraform_data.lablink_vm[3]")}, 5, 3, true},
		{"other resources and reads do not count", []plancheck.Change{other, read, vm("terraform_data.lablink_vm[2]")}, 3, 2, true},
		{"VMs in a child module", []plancheck.Change{child, vm("terraform_data.lablink_vm[2]")}, 3, 0, false},
		{"aws_instance", []plancheck.Change{vm("aws_instance.lablink_vm[1]")}, 2, 1, true},
		{"a gap (a VM gone out of band)", []plancheck.Change{vm("terraform_data.lablink_vm[0]"), vm("terraform_data.lablink_vm[2]")}, 3, 0, false},
		{"not up to total", []plancheck.Change{vm("terraform_data.lablink_vm[1]")}, 3, 0, false},
		{"beyond total", []plancheck.Change{vm("terraform_data.lablink_vm[3]")}, 3, 0, false},
		{"negative", []plancheck.Change{vm("terraform_data.lablink_vm[-1]")}, 1, 0, false},
		{"a key", []plancheck.Change{vm(`terraform_data.lablink_vm["a"]`)}, 1, 0, false},
		{"no index", []plancheck.Change{vm("terraform_data.lablink_vm")}, 1, 0, false},
		{"a leading zero", []plancheck.Change{vm("terraform_data.lablink_vm[01]")}, 2, 0, false},
		{"twice", []plancheck.Change{vm("terraform_data.lablink_vm[1]"), vm("terraform_data.lablink_vm[1]")}, 2, 0, false},
		{"two types", []plancheck.Change{vm("terraform_data.lablink_vm[1]"), vm("aws_instance.lablink_vm[2]")}, 3, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Launcher{opts: Options{VMResource: "lablink_vm"}}
			prior, ok := createdTail(&planread.Plan{Changes: tt.changes}, tt.total, "lablink_vm")
			assert.Equal(t, tt.ok, ok, "proven")
			if tt.ok {
				assert.Equal(t, tt.prior, prior, "prior VMs")
				assert.Equal(t, tt.prior, s.prior(&savedPlan{plan: &planread.Plan{Changes: tt.changes}, fromEvents: true}, tt.total), "prior of the saved plan read from events")
			}
		})
	}
}

// On every plan OpenTofu made for plancheck's event fixtures, a prior VM
// count inferred from the event stream is the one the saved plan's prior
// state gives; the stream is used only where createdTail proves it.
func TestCreatedTailAgreesWithSavedPlan(t *testing.T) {
	streams, err := filepath.Glob("../internal/planread/testdata/events/*.jsonl")
	require.NoError(t, err)
	require.NotEmpty(t, streams)
	s := &Launcher{opts: Options{VMResource: "lablink_vm"}}
	inferred := 0
	for _, events := range streams {
		name := strings.TrimSuffix(filepath.Base(events), ".jsonl")
		show := strings.TrimSuffix(events, "l")
		fromEvents, err := planread.ReadEvents(bytes.NewReader(readTestFile(t, events)), nil)
		if err != nil {
			require.ErrorIs(t, err, planread.ErrNeedsSavedPlan, name)
			continue
		}
		saved, err := planread.Read(bytes.NewReader(readTestFile(t, show)), nil)
		require.NoError(t, err, name)
		total := instanceCount(t, readTestFile(t, show))
		n, ok := createdTail(fromEvents, total, "lablink_vm")
		if !ok {
			continue
		}
		inferred++
		assert.Equal(t, s.prior(&savedPlan{plan: saved}, total), n, "%s: prior VMs", name)
	}
	assert.GreaterOrEqual(t, inferred, 2, "fixtures whose prior count came from the stream")
}

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// instanceCount is the instance_count variable of a `show -json` plan, a
// number or a string.
func instanceCount(t *testing.T, show []byte) int {
	t.Helper()
	var plan struct {
		Variables map[string]struct {
			Value any `json:"value"`
		} `json:"variables"`
	}
	require.NoError(t, json.Unmarshal(show, &plan))
	n, err := strconv.Atoi(fmt.Sprint(plan.Variables["instance_count"].Value))
	require.NoError(t, err, "instance_count")
	return n
}
