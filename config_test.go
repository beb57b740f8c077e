package lablink_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// base makes a snippet a config today's rules accept: an IP-only
// allocator serving plain HTTP. Snippets below must not set ssl.
const base = "ssl:\n  provider: none\n"

// baseLines is how many lines base adds before a snippet.
const baseLines = 2

// TestDefaultConfig pins every default: for a key a release removed, the
// default it had then; for today's keys, today's (see the schema
// generations in docs/upstream.md).
func TestDefaultConfig(t *testing.T) {
	want := lablink.Config{
		Environment: "prod",
		Provider:    "aws",
		DB: lablink.DB{DBName: "lablink_db", User: "lablink", Password: "lablink", Host: "localhost",
			Port: 5432, TableName: "vm_table", MessageChannel: "vm_updates"},
		App: lablink.App{AdminUser: "MISSING", AdminPassword: "MISSING", Region: "us-west-2",
			AdminSessionTimeoutMinutes: 30},
		Machine: lablink.Machine{MachineType: "g4dn.xlarge", Repository: "",
			Image: "ghcr.io/talmolab/lablink-client-base-image:latest", AMIID: "ami-00c257e12d6828491",
			Software: "sleap", Extension: "slp"},
		DNS: lablink.DNS{Enabled: false, TerraformManaged: true, Domain: "", ZoneID: "",
			AppName: "lablink", Pattern: "", CustomSubdomain: "", CreateZone: false},
		EIP:        lablink.EIP{Strategy: "dynamic", TagName: "lablink-eip"},
		SSL:        lablink.SSL{Provider: "letsencrypt", Email: "", Staging: false, CertificateARN: ""},
		Allocator:  lablink.Allocator{ImageTag: "linux-amd64-latest"},
		BucketName: "tf-state-lablink-allocator-bucket",
		StartupScript: lablink.StartupScript{Enabled: false, Path: "", OnError: "continue",
			MaxAttempts: 3, BaseDelaySeconds: 30, SuccessCheck: ""},
		Monitoring: lablink.Monitoring{
			ProcessAllowlist: []string{"sleap-train", "sleap-track", "sleap-label"},
			WatchDir:         "/home/client/Desktop", SampleIntervalSeconds: 2, PushIntervalSeconds: 60,
			Thresholds: lablink.MonitoringThresholds{MaxInstancesPer5Min: 10, MaxTerminationsPer5Min: 20,
				MaxUnauthorizedCallsPer15Min: 5},
			Budget:     lablink.MonitoringBudget{MonthlyBudgetUSD: 500},
			CloudTrail: lablink.MonitoringCloudTrail{RetentionDays: 90},
		},
		Manual: lablink.Manual{Connectivity: "lan_direct", ParticipantExposure: "none"},
	}
	assert.Equal(t, want, lablink.DefaultConfig())
}

// TestDefaultConfigIsRefused: upstream's own defaults break its rules
// (TLS by Let's Encrypt without DNS or an e-mail address), so an empty
// file is refused there too. The errors say what to set.
func TestDefaultConfigIsRefused(t *testing.T) {
	got := fieldErrors(t, lablink.DefaultConfig().Validate())
	assert.Equal(t, []fieldErr{
		{0, "ssl.provider", lablink.ErrInvalidValue},
		{0, "ssl.email", lablink.ErrInvalidValue},
	}, got)
	assert.ErrorContains(t, lablink.DefaultConfig().Validate(),
		`ssl.email: invalid value: required because ssl.provider is "letsencrypt" (the default); set ssl.email to`)
	// From a file, the errors say that the file leaves the keys out.
	_, _, err := lablink.ParseConfig(nil)
	assert.EqualError(t, err, `ssl.provider (not set; default "letsencrypt"): invalid value: "letsencrypt" needs DNS for its certificate, `+
		`but dns.enabled is false (the default, as the file does not set it); set dns.enabled: true and dns.domain to the allocator's host name, or ssl.provider: none for plain HTTP`+"\n"+
		`ssl.email (not set): invalid value: required because ssl.provider is "letsencrypt" (the default, as the file does not set it); `+
		`set ssl.email to the address Let's Encrypt sends certificate notices to, or ssl.provider: none for plain HTTP`)
}

func TestLoadConfigFull(t *testing.T) {
	cfg, warns, err := lablink.LoadConfig("testdata/full.yaml")
	require.NoError(t, err)
	want := lablink.Config{
		DeploymentName: "teaching-lab",
		Environment:    "Spring Term",
		Provider:       "aws",
		DB: lablink.DB{DBName: "labdb", User: "labuser", Password: "s3cret", Host: "db.internal",
			Port: 6543, TableName: "vms", MessageChannel: "vm_changes"},
		App: lablink.App{AdminUser: "root", AdminPassword: "correct-horse-battery-staple", Region: "eu-central-1",
			AdminSessionTimeoutMinutes: 45},
		Machine: lablink.Machine{MachineType: "g5.xlarge",
			Repository: "https://github.com/talmolab/sleap-tutorial-data.git",
			Image:      "ghcr.io/talmolab/lablink-client-base-image:v1.2.3", AMIID: "ami-0123456789abcdef0",
			Software: "napari", Extension: "tif"},
		DNS: lablink.DNS{Enabled: true, TerraformManaged: false, Domain: "lablink.example.com", ZoneID: "Z123456",
			AppName: "lab", Pattern: "custom", CustomSubdomain: "dev", CreateZone: true},
		EIP: lablink.EIP{Strategy: "persistent", TagName: "my-eip"},
		SSL: lablink.SSL{Provider: "acm", Email: "ops@example.com", Staging: true,
			CertificateARN: "arn:aws:acm:eu-central-1:123456789012:certificate/abc"},
		Allocator:  lablink.Allocator{ImageTag: "linux-amd64-v2"},
		BucketName: "my-state-bucket",
		StartupScript: lablink.StartupScript{Enabled: true, Path: "/opt/startup.sh", OnError: "fail",
			MaxAttempts: 5, BaseDelaySeconds: 10, SuccessCheck: `test -f /tmp/ready && echo "ok"`},
		Monitoring: lablink.Monitoring{
			Enabled:               true,
			SubjectWindowPatterns: []string{"napari", "Napari Viewer"},
			ProcessAllowlist:      []string{"napari"},
			WatchDir:              "/home/client/data", SampleIntervalSeconds: 5, PushIntervalSeconds: 120,
			Email: "alerts@example.com",
			Thresholds: lablink.MonitoringThresholds{MaxInstancesPer5Min: 4, MaxTerminationsPer5Min: 8,
				MaxUnauthorizedCallsPer15Min: 2},
			Budget:     lablink.MonitoringBudget{Enabled: true, MonthlyBudgetUSD: 250},
			CloudTrail: lablink.MonitoringCloudTrail{RetentionDays: 30},
		},
		Manual: lablink.Manual{Connectivity: "mesh_overlay", OverlayTailnet: "lab.ts.net",
			ParticipantExposure: "cloudflare_tunnel", PublicHostname: "lab.example.org"},
	}
	assert.Equal(t, want, cfg)
	// Every removed key is set in full.yaml, so every deprecation warns,
	// in file order.
	var paths []string
	for _, w := range warns {
		paths = append(paths, w.Path)
		assert.Equal(t, "testdata/full.yaml", w.File, w.Path)
		assert.Positive(t, w.Line, w.Path)
	}
	var all []string
	for _, d := range lablink.Deprecations() {
		all = append(all, d.Path)
	}
	assert.ElementsMatch(t, all, paths)
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		edit func(*lablink.Config) // applied to the base config to get the want
	}{
		{name: "base only", yaml: "", edit: func(*lablink.Config) {}},
		{name: "comments only", yaml: "# nothing\n", edit: func(*lablink.Config) {}},
		{name: "missing keys take defaults", yaml: "machine:\n  machine_type: t3.large\n",
			edit: func(c *lablink.Config) { c.Machine.MachineType = "t3.large" }},
		{name: "missing repository is empty, never None", yaml: "machine:\n  software: sleap\n",
			edit: func(*lablink.Config) {}},
		{name: "null repository is empty", yaml: "machine:\n  repository:\n",
			edit: func(*lablink.Config) {}},
		{name: "null keeps the default", yaml: "machine:\n  machine_type: null\n",
			edit: func(*lablink.Config) {}},
		{name: "null section keeps defaults", yaml: "dns:\n", edit: func(*lablink.Config) {}},
		{name: "quoted number is a string", yaml: "allocator:\n  image_tag: \"1.0\"\n",
			edit: func(c *lablink.Config) { c.Allocator.ImageTag = "1.0" }},
		{name: "bools and ints", yaml: "dns:\n  enabled: true\n  domain: lab.example.org\ndb:\n  port: 1\n",
			edit: func(c *lablink.Config) { c.DNS.Enabled = true; c.DNS.Domain = "lab.example.org"; c.DB.Port = 1 }},
		{name: "alias value", yaml: "app:\n  region: &r us-east-1\nmachine:\n  software: *r\n",
			edit: func(c *lablink.Config) { c.App.Region = "us-east-1"; c.Machine.Software = "us-east-1" }},
		{name: "today's top-level keys", yaml: "deployment_name: my-lab\nenvironment: test\nprovider: manual\n",
			edit: func(c *lablink.Config) { c.DeploymentName = "my-lab"; c.Environment = "test"; c.Provider = "manual" }},
		{name: "empty list", yaml: "monitoring:\n  process_allowlist: []\n",
			edit: func(c *lablink.Config) { c.Monitoring.ProcessAllowlist = []string{} }},
		{name: "block list", yaml: "monitoring:\n  subject_window_patterns:\n    - a\n    - \"b c\"\n",
			edit: func(c *lablink.Config) { c.Monitoring.SubjectWindowPatterns = []string{"a", "b c"} }},
		{name: "null list keeps the default", yaml: "monitoring:\n  process_allowlist:\n",
			edit: func(*lablink.Config) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := lablink.ParseConfig([]byte(base + tt.yaml))
			require.NoError(t, err)
			want := lablink.DefaultConfig()
			want.SSL.Provider = "none"
			tt.edit(&want)
			assert.Equal(t, want, got)
		})
	}
}

// fieldErr is the comparable part of a *lablink.FieldError.
type fieldErr struct {
	Line int
	Path string
	Is   error
}

func fieldErrors(t *testing.T, err error) []fieldErr {
	t.Helper()
	var out []fieldErr
	for _, e := range unjoin(err) {
		var fe *lablink.FieldError
		require.ErrorAs(t, e, &fe)
		got := fieldErr{Line: fe.Line, Path: fe.Path}
		for _, s := range []error{lablink.ErrUnknownKey, lablink.ErrWrongType, lablink.ErrDuplicateKey, lablink.ErrInvalidValue} {
			if errors.Is(e, s) {
				got.Is = s
			}
		}
		out = append(out, got)
	}
	return out
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []fieldErr // lines counted within yaml
	}{
		{"unknown top-level key", "machines:\n  machine_type: x\n",
			[]fieldErr{{1, "machines", lablink.ErrUnknownKey}}},
		{"unknown nested key names its path and line", "app:\n  region: us-west-2\nmachine:\n  machine_typ: t3.large\n",
			[]fieldErr{{4, "machine.machine_typ", lablink.ErrUnknownKey}}},
		{"number where a string belongs", "machine:\n  ami_id: 123\n",
			[]fieldErr{{2, "machine.ami_id", lablink.ErrWrongType}}},
		{"bool where a string belongs", "machine:\n  software: true\n",
			[]fieldErr{{2, "machine.software", lablink.ErrWrongType}}},
		{"string where an int belongs", "db:\n  port: \"5432\"\n",
			[]fieldErr{{2, "db.port", lablink.ErrWrongType}}},
		{"float where an int belongs", "startup_script:\n  max_attempts: 2.5\n",
			[]fieldErr{{2, "startup_script.max_attempts", lablink.ErrWrongType}}},
		{"string where a bool belongs", "dns:\n  enabled: \"yes\"\n",
			[]fieldErr{{2, "dns.enabled", lablink.ErrWrongType}}},
		{"list where a string belongs", "machine:\n  image: [a, b]\n",
			[]fieldErr{{2, "machine.image", lablink.ErrWrongType}}},
		{"scalar where a list belongs", "monitoring:\n  process_allowlist: sleap-train\n",
			[]fieldErr{{2, "monitoring.process_allowlist", lablink.ErrWrongType}}},
		{"number in a list of strings", "monitoring:\n  process_allowlist: [a, 7, b]\n",
			[]fieldErr{{2, "monitoring.process_allowlist[1]", lablink.ErrWrongType}}},
		{"scalar where a section belongs", "dns: on\n",
			[]fieldErr{{1, "dns", lablink.ErrWrongType}}},
		{"duplicate key", "machine:\n  software: a\n  software: b\n",
			[]fieldErr{{3, "machine.software", lablink.ErrDuplicateKey}}},
		{"every problem at once", "db:\n  port: x\n  nope: 1\nmachine:\n  ami_id: 7\nextra: 1\n",
			[]fieldErr{
				{2, "db.port", lablink.ErrWrongType},
				{3, "db.nope", lablink.ErrUnknownKey},
				{5, "machine.ami_id", lablink.ErrWrongType},
				{6, "extra", lablink.ErrUnknownKey},
			}},
		// Upstream stops at the first unknown key; here the problems of
		// Validate come with it, each on the line of its key.
		{"unknown keys and invalid values together",
			"deploymnet_name: x\nmachine:\n  machine_type: \"g4dn.xlarge; id\"\ndns:\n  enabled: true\n  domain: .example.org\n",
			[]fieldErr{
				{1, "deploymnet_name", lablink.ErrUnknownKey},
				{3, "machine.machine_type", lablink.ErrInvalidValue},
				{6, "dns.domain", lablink.ErrInvalidValue},
			}},
		{"a wrong type is not also an invalid value", "machine:\n  machine_type: 7\n",
			[]fieldErr{{2, "machine.machine_type", lablink.ErrWrongType}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := lablink.ParseConfig([]byte(base + tt.yaml))
			require.Error(t, err)
			want := make([]fieldErr, len(tt.want))
			for i, w := range tt.want {
				w.Line += baseLines
				want[i] = w
			}
			assert.Equal(t, want, fieldErrors(t, err), "error text:\n%v", err)
		})
	}
}

func TestLoadConfigNamesFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(base+"app:\n  regoin: us-west-2\n"), 0o600))
	_, _, err := lablink.LoadConfig(path)
	assert.EqualError(t, err, path+":4: app.regoin: unknown key; did you mean region?")

	// A key the file lacks is reported on the line of its section.
	require.NoError(t, os.WriteFile(path, []byte(base+"dns:\n  enabled: true\n"), 0o600))
	_, _, err = lablink.LoadConfig(path)
	assert.EqualError(t, err, path+":3: dns.domain (not set): invalid value: required because dns.enabled is true; "+
		"set dns.domain to the allocator's host name, such as lablink.example.org, or dns.enabled: false")

	// A syntax error too names the file and the line.
	require.NoError(t, os.WriteFile(path, []byte(base+"machine:\n  software: a: b\n"), 0o600))
	_, _, err = lablink.LoadConfig(path)
	assert.EqualError(t, err, path+`:4: yaml syntax error: mapping value is not allowed in this context; quote a value that holds ": ", or indent this key like the keys above it (column 14)`)
	assert.ErrorIs(t, err, lablink.ErrSyntax)

	_, _, err = lablink.LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestDeprecatedKeys: each key an upstream release removed loads with its
// old meaning and one warning naming its line, the release and what to do
// instead.
func TestDeprecatedKeys(t *testing.T) {
	tests := []struct {
		yaml string
		path string
		want func(*lablink.Config)
	}{
		{"dns:\n  app_name: lab\n", "dns.app_name", func(c *lablink.Config) { c.DNS.AppName = "lab" }},
		{"dns:\n  pattern: auto\n", "dns.pattern", func(c *lablink.Config) { c.DNS.Pattern = "auto" }},
		{"dns:\n  custom_subdomain: dev\n", "dns.custom_subdomain", func(c *lablink.Config) { c.DNS.CustomSubdomain = "dev" }},
		{"dns:\n  create_zone: true\n", "dns.create_zone", func(c *lablink.Config) { c.DNS.CreateZone = true }},
		{"ssl:\n  staging: true\n", "ssl.staging", func(c *lablink.Config) { c.SSL.Staging = true }},
		{"eip:\n  tag_name: my-eip\n", "eip.tag_name", func(c *lablink.Config) { c.EIP.TagName = "my-eip" }},
		{"db:\n  message_channel: ch\n", "db.message_channel", func(c *lablink.Config) { c.DB.MessageChannel = "ch" }},
		{"machine:\n  extension: h5\n", "machine.extension", func(c *lablink.Config) { c.Machine.Extension = "h5" }},
		{"monitoring:\n  email: a@example.org\n", "monitoring.email", func(c *lablink.Config) { c.Monitoring.Email = "a@example.org" }},
		{"monitoring:\n  thresholds:\n    max_instances_per_5min: 3\n", "monitoring.thresholds",
			func(c *lablink.Config) { c.Monitoring.Thresholds.MaxInstancesPer5Min = 3 }},
		{"monitoring:\n  budget:\n    enabled: true\n    monthly_budget_usd: 9\n", "monitoring.budget",
			func(c *lablink.Config) {
				c.Monitoring.Budget = lablink.MonitoringBudget{Enabled: true, MonthlyBudgetUSD: 9}
			}},
		{"monitoring:\n  cloudtrail:\n    retention_days: 7\n", "monitoring.cloudtrail",
			func(c *lablink.Config) { c.Monitoring.CloudTrail.RetentionDays = 7 }},
		{"db:\n  dbname: x\n", "db.dbname", func(c *lablink.Config) { c.DB.DBName = "x" }},
		{"db:\n  user: x\n", "db.user", func(c *lablink.Config) { c.DB.User = "x" }},
		{"db:\n  host: x\n", "db.host", func(c *lablink.Config) { c.DB.Host = "x" }},
		{"db:\n  port: 5433\n", "db.port", func(c *lablink.Config) { c.DB.Port = 5433 }},
		{"db:\n  table_name: x\n", "db.table_name", func(c *lablink.Config) { c.DB.TableName = "x" }},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			covered[tt.path] = true
			yaml := base + tt.yaml
			if strings.HasPrefix(tt.yaml, "ssl:") {
				yaml = "ssl:\n  provider: none\n" + strings.TrimPrefix(tt.yaml, "ssl:\n")
			}
			cfg, warns, err := lablink.ParseConfig([]byte(yaml))
			require.NoError(t, err)
			want := lablink.DefaultConfig()
			want.SSL.Provider = "none"
			tt.want(&want)
			assert.Equal(t, want, cfg)
			require.Len(t, warns, 1)
			w := warns[0]
			assert.Equal(t, tt.path, w.Path)
			assert.Equal(t, strings.Count(yaml[:strings.LastIndex(yaml, lastKey(tt.path))], "\n")+1, w.Line)
			assert.NotEmpty(t, w.Release)
			assert.Contains(t, w.String(), tt.path+" is deprecated: removed in allocator "+w.Release)
			assert.Contains(t, w.String(), w.Replacement)
		})
	}
	for _, d := range lablink.Deprecations() {
		assert.True(t, covered[d.Path], "no test row for deprecated key %s", d.Path)
	}
}

func lastKey(path string) string { return path[strings.LastIndexByte(path, '.')+1:] + ":" }

func TestWarningString(t *testing.T) {
	w := lablink.Warning{File: "config.yaml", Line: 12}
	w.Deprecation = lablink.Deprecations()[1]
	assert.Equal(t, `config.yaml:12: dns.pattern is deprecated: removed in allocator v0.1.0 (b1c97c5a, 2025-12-08), which refuses a file that sets it; set dns.domain to the whole host name`, w.String())
}

func TestField(t *testing.T) {
	cfg, _, err := lablink.LoadConfig("testdata/full.yaml")
	require.NoError(t, err)
	tests := []struct {
		path string
		want any
	}{
		{"machine.software", "napari"},
		{"db.port", 6543},
		{"dns.enabled", true},
		{"deployment_name", "teaching-lab"},
		{"monitoring.process_allowlist", []string{"napari"}},
		{"monitoring.budget.monthly_budget_usd", 250},
		{"startup_script.success_check", `test -f /tmp/ready && echo "ok"`},
	}
	for _, tt := range tests {
		got, ok := cfg.Field(tt.path)
		assert.True(t, ok, tt.path)
		assert.Equal(t, tt.want, got, tt.path)
	}
	for _, bad := range []string{"", "machine.nope", "machine.software.x", "MachineType", "machine.MachineType"} {
		_, ok := cfg.Field(bad)
		assert.False(t, ok, bad)
	}
}
