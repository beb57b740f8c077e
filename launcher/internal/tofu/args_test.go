package tofu

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Every command line the launcher runs, as OpenTofu gets it.
func TestArgs(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  []string
		want []string
	}{
		{"init", Init(InitArgs{}),
			[]string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false"}},
		{"init with backend", Init(InitArgs{BackendConfig: []string{"bucket=b", "key=k"}}),
			[]string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false",
				"-reconfigure", "-backend-config=bucket=b", "-backend-config=key=k"}},
		{"plan json", Plan(PlanArgs{Out: "/w/p.tfplan", VarFile: "/w/t.tfvars", LockTimeout: 2 * time.Minute, Parallelism: 10, JSON: true}),
			[]string{"plan", "-json", "-no-color", "-input=false", "-lock-timeout=2m0s", "-out=/w/p.tfplan",
				"-var-file=/w/t.tfvars", "-lock=true", "-parallelism=10", "-refresh=true"}},
		{"plan destroy", Plan(PlanArgs{Out: "p", VarFile: "v", Parallelism: 10, Destroy: true}),
			[]string{"plan", "-no-color", "-input=false", "-lock-timeout=0s", "-out=p", "-var-file=v",
				"-lock=true", "-parallelism=10", "-refresh=true", "-destroy"}},
		{"apply json", Apply(ApplyArgs{Plan: "/w/p.tfplan", LockTimeout: time.Minute, Parallelism: 100, JSON: true}),
			[]string{"apply", "-json", "-no-color", "-auto-approve", "-input=false", "-lock-timeout=1m0s",
				"-lock=true", "-parallelism=100", "/w/p.tfplan"}},
		{"apply", Apply(ApplyArgs{Plan: "p", Parallelism: 10}),
			[]string{"apply", "-no-color", "-auto-approve", "-input=false", "-lock-timeout=0s", "-lock=true", "-parallelism=10", "p"}},
		{"show plan", Show("p"), []string{"show", "-json", "-no-color", "p"}},
		{"version", Version(), []string{"version", "-json"}},
		{"state pull", StatePull(), []string{"state", "pull"}},
		{"state push", StatePush("errored.tfstate", 30*time.Second),
			[]string{"state", "push", "-lock=true", "-lock-timeout=30s", "errored.tfstate"}},
		{"force-unlock", ForceUnlock("abc"), []string{"force-unlock", "-no-color", "-force", "abc"}},
		{"untaint", Untaint("terraform_data.lablink_vm[3]", time.Minute),
			[]string{"untaint", "-no-color", "-lock=true", "-lock-timeout=1m0s", "terraform_data.lablink_vm[3]"}},
		{"state rm", StateRm("aws_instance.lablink_vm[0]", 0),
			[]string{"state", "rm", "-lock=true", "-lock-timeout=0s", "aws_instance.lablink_vm[0]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}
