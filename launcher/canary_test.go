package launcher_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/plancheck"
)

// Canary tokens: unique strings that must reach the runtime tfvars and
// the state, and nothing else.
const (
	canaryAgent    = "canaryAgentToken-7f3e9a1c5b2d4e6f8a0b"
	canaryRegister = "canaryRegisterToken-2c4e6a8b0d1f3a5c7e9b"
)

// loggingBinary is a wrapper around OpenTofu that appends its command
// line and environment to log before running it.
func loggingBinary(t *testing.T, log string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tofu")
	script := "#!/bin/sh\n{ printf 'ARGV'; printf ' %s' \"$@\"; echo; env; echo; } >> '" + log + "'\n" +
		"exec '" + tofutest.Binary(t) + "' \"$@\"\n"
	require.NoError(t, os.WriteFile(p, []byte(script), 0o755))
	return p
}

// TestSecretsStayInTheVMsInputs hands the launcher canary tokens and
// counts where they appear after a launch, a refused launch, a status and
// a destroy: in the runtime tfvars (mode 0600) and the state, and zero
// times in results, errors, the audit trail (a directory and S3),
// OpenTofu's command lines and environment, or any other file of the
// working directory.
func TestSecretsStayInTheVMsInputs(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, terraform.Materialize("local", dir))
	log := filepath.Join(t.TempDir(), "tofu.log")
	srv := miniotest.Shared(t)
	bucket := srv.NewBucket(t)
	s3store := audit.NewS3Store(srv.S3Client(t), bucket, &audit.S3Options{Prefix: "audit"})
	env := fixtureEnv()
	env.AgentToken, env.RegisterToken = canaryAgent, canaryRegister
	var progress []string
	l := open(t, dir, loggingBinary(t, log), testkit.Config(), gpu.Catalog{}, &launcher.Options{
		Env:        &env,
		TofuEnv:    tofutest.ExecEnv(t),
		Trail:      audit.NewTrail(s3store, nil),
		Operations: audit.NewOpStore(s3store, nil),
		Progress:   func(p launcher.Progress) { progress = append(progress, fmt.Sprintf("%+v", p)) },
	})
	ctx := context.Background()

	var said []string // everything the launcher handed back
	res, err := l.Launch(ctx, launcher.Request{Count: 2, Actor: "admin"})
	require.NoError(t, err)
	said = append(said, fmt.Sprintf("%+v", res))
	tfvarsData, err := os.ReadFile(l.TFVarsPath())
	require.NoError(t, err)
	fi, err := os.Stat(l.TFVarsPath())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A launch refused by the guard: its error must not carry the tokens.
	main := filepath.Join(dir, "main.tf")
	src := readFile(t, main)
	writeFile(t, main, strings.Replace(src, "triggers_replace = var.client_ami_id", "triggers_replace = \"${var.client_ami_id}-x\"", 1))
	_, err = l.Launch(ctx, launcher.Request{Count: 1})
	require.ErrorIs(t, err, plancheck.ErrRefused)
	said = append(said, err.Error())
	writeFile(t, main, src)

	st, err := l.Status(ctx)
	require.NoError(t, err)
	said = append(said, fmt.Sprintf("%+v", st))
	ops, _, err := l.Ops(ctx, audit.OpQuery{})
	require.NoError(t, err)
	said = append(said, fmt.Sprintf("%+v", ops))
	stateData, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	require.NoError(t, err)
	dres, err := l.Destroy(ctx, launcher.Request{Actor: "admin"})
	require.NoError(t, err)
	said = append(said, fmt.Sprintf("%+v", dres), strings.Join(progress, "\n"))

	// Each token in the forms it takes: as written, and as the boot script
	// in the VM's user_data (and so in the state) carries it.
	forms := map[string][]string{
		"agent token":    {canaryAgent, base64.StdEncoding.EncodeToString([]byte("AGENT_TOKEN=" + canaryAgent + "\n"))},
		"register token": {canaryRegister, base64.StdEncoding.EncodeToString([]byte(canaryRegister))},
	}
	tofuLog := readFile(t, log)
	require.Contains(t, tofuLog, "ARGV apply", "the wrapper logged the applies")
	for name, f := range forms {
		assert.Contains(t, string(tfvarsData), f[0], "the runtime tfvars hold the %s", name)
		assert.Contains(t, string(stateData), f[1], "the state holds the %s, in the VMs' user_data", name)
		for _, canary := range f {
			for i, s := range said {
				assert.NotContains(t, s, canary, "%s in launcher output %d", name, i)
			}
			assert.NotContains(t, tofuLog, canary, "%s in OpenTofu's command lines and environment", name)
			assert.Zero(t, countInS3(t, srv.S3Client(t), bucket, canary), "%s in the S3 audit trail and operations", name)
			assert.Empty(t, filesHolding(t, dir, canary, "terraform.runtime.tfvars", "terraform.tfstate", "terraform.tfstate.backup"),
				"%s in files of the working directory other than the tfvars, the state and its copies", name)
		}
	}
}

// countInS3 counts the objects of bucket that hold s.
func countInS3(t *testing.T, c *s3.Client, bucket, s string) int {
	t.Helper()
	out, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	require.NotEmpty(t, out.Contents, "the audit trail wrote to S3")
	n := 0
	for _, o := range out.Contents {
		obj, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		require.NoError(t, err)
		if strings.Contains(readAll(t, obj), s) {
			n++
		}
	}
	return n
}

func readAll(t *testing.T, obj *s3.GetObjectOutput) string {
	t.Helper()
	defer obj.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := obj.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// filesHolding lists the files under dir holding s, but for the top-level
// files named in allowed.
func filesHolding(t *testing.T, dir, s string, allowed ...string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, a := range allowed {
			if rel == a {
				return nil
			}
		}
		if strings.HasPrefix(rel, ".terraform"+string(filepath.Separator)+"providers") {
			return nil
		}
		if strings.HasPrefix(rel, filepath.Join(".lablink", "state-copies")+string(filepath.Separator)) {
			return nil // copies of the state, 0600 like it
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, rel)
		}
		return err
	}))
	return out
}
