package planread_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/buildcache"
	"github.com/lablink-go/lablink/internal/tofutest"
)

// largePlan is a plan of the local client module (examples/terraform/local)
// made by a real OpenTofu: the module applied with base VMs, then planned
// to total.
type largePlan struct {
	name        string
	base, total int
}

// largePlans are the plans of the benchmarks and of the large equivalence
// tests: a class of 500 created at once (14 MB of JSON: each VM carries its
// 7.8 KB boot script and 5.2 KB user_data_base64 in resource_changes and
// again in planned_values), and scripts/bench's step from 100 to 500 VMs,
// whose prior state holds the 100 running VMs with their values.
var largePlans = []largePlan{
	{name: "create-500", base: 0, total: 500},
	{name: "grow-100-500", base: 100, total: 500},
}

// largePlanJSON returns the `tofu show -json` output of lp, and the
// `tofu plan -json` event stream of the same plan. The plans are
// too large for the repository (about 14 and 26 MB, and user_data_base64
// is gzip that does not compress), so the first use on a machine makes
// them with the OpenTofu tofutest finds (TOFU_PATH, PATH, else the pinned
// build) and keeps them in the build cache (~/.cache/lablink), named by a
// digest of the module, the variables and the OpenTofu binary; a change to
// any of them makes a new plan. -short skips.
func largePlanJSON(tb testing.TB, lp largePlan) (show, events []byte) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("-short: no OpenTofu-made large plans")
	}
	module := filepath.Join("..", "..", "examples", "terraform", "local")
	bin := tofutest.Binary(tb)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", bin, benchVars(lp.base), benchVars(lp.total))
	require.NoError(tb, fs.WalkDir(os.DirFS(module), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join(module, p))
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return err
	}))
	dir, err := buildcache.Dir()
	require.NoError(tb, err)
	path := filepath.Join(dir, "plancheck-"+lp.name+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	show, err1 := os.ReadFile(path + ".json")
	events, err2 := os.ReadFile(path + ".jsonl")
	if err1 == nil && err2 == nil {
		return show, events
	}
	show, events = makeLargePlan(tb, bin, module, lp)
	// Rename makes each file appear whole, the show output last; a
	// concurrent maker writes the same plan.
	tmp := path + ".tmp-" + strings.ReplaceAll(tb.Name(), "/", "_")
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".jsonl", events}, {".json", show}} {
		require.NoError(tb, os.WriteFile(tmp, f.data, 0o644))
		require.NoError(tb, os.Rename(tmp, path+f.ext))
	}
	return show, events
}

func makeLargePlan(tb testing.TB, bin, module string, lp largePlan) (show, events []byte) {
	tb.Helper()
	dir := tb.TempDir()
	require.NoError(tb, os.CopyFS(dir, os.DirFS(module)))
	env := tofutest.Env(tb)
	run := func(args ...string) []byte {
		cmd := exec.CommandContext(tb.Context(), bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(tb, err, "%s: tofu %s: %s", lp.name, strings.Join(args, " "), stderr.Bytes())
		return out
	}
	vars := filepath.Join(dir, "terraform.runtime.tfvars")
	run("init", "-input=false", "-no-color")
	if lp.base > 0 {
		require.NoError(tb, os.WriteFile(vars, []byte(benchVars(lp.base)), 0o600))
		run("apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=50", "-var-file="+vars)
	}
	require.NoError(tb, os.WriteFile(vars, []byte(benchVars(lp.total)), 0o600))
	events = run("plan", "-json", "-out=plan.bin", "-input=false", "-var-file="+vars)
	show = run("show", "-json", "plan.bin")
	require.NotContains(tb, string(show), dir, "%s: the plan names the temporary directory", lp.name)
	return show, events
}

// benchVars are runtime tfvars of the kind the launcher renders for the
// local module: every required variable, fake tokens.
func benchVars(count int) string {
	return fmt.Sprintf(`instance_count  = %d
allocator_ip    = "203.0.113.10"
allocator_url   = "http://203.0.113.10"
allocator_port  = 80
gpu_support     = true
resource_prefix = "sleap-lablink-client-bench"
agent_token     = "bench-agent-token-0123456789abcdef"
register_token  = "bench-register-token-0123456789abcdef"
allocator_sg_id = "sg-0123456789abcdef0"
`, count)
}
