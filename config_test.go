package lablink_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lablink-go/lablink"
)

// TestDefaultConfig pins every default of SPEC §1.
func TestDefaultConfig(t *testing.T) {
	want := lablink.Config{
		DB: lablink.DB{DBName: "lablink_db", User: "lablink", Password: "lablink", Host: "localhost",
			Port: 5432, TableName: "vm_table", MessageChannel: "vm_updates"},
		App: lablink.App{AdminUser: "admin", AdminPassword: "admin_password", Region: "us-west-2"},
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
	}
	if diff := cmp.Diff(want, lablink.DefaultConfig()); diff != "" {
		t.Errorf("DefaultConfig() (-want +got):\n%s", diff)
	}
	if err := lablink.DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v, want nil", err)
	}
}

func TestLoadConfigFull(t *testing.T) {
	cfg, err := lablink.LoadConfig("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := lablink.Config{
		DB: lablink.DB{DBName: "labdb", User: "labuser", Password: "s3cret", Host: "db.internal",
			Port: 6543, TableName: "vms", MessageChannel: "vm_changes"},
		App: lablink.App{AdminUser: "root", AdminPassword: "correct-horse-battery-staple", Region: "eu-central-1"},
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
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("LoadConfig (-want +got):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		edit func(*lablink.Config) // applied to DefaultConfig to get the want
	}{
		{name: "empty file", yaml: "", edit: func(*lablink.Config) {}},
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
		{name: "bools and ints", yaml: "dns:\n  enabled: true\ndb:\n  port: 1\n",
			edit: func(c *lablink.Config) { c.DNS.Enabled = true; c.DB.Port = 1 }},
		{name: "anchors and aliases", yaml: "x: &r us-east-1\n", edit: nil},
		{name: "alias value", yaml: "app:\n  region: &r us-east-1\nmachine:\n  software: *r\n",
			edit: func(c *lablink.Config) { c.App.Region = "us-east-1"; c.Machine.Software = "us-east-1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lablink.ParseConfig([]byte(tt.yaml))
			if tt.edit == nil {
				if err == nil {
					t.Fatalf("ParseConfig succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			want := lablink.DefaultConfig()
			tt.edit(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
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
		if !errors.As(e, &fe) {
			t.Fatalf("error %v is not a *FieldError", e)
		}
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
		want []fieldErr
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
		{"scalar where a section belongs", "dns: on\n",
			[]fieldErr{{1, "dns", lablink.ErrWrongType}}},
		{"list at the top", "- a\n",
			[]fieldErr{{1, "(top level)", lablink.ErrWrongType}}},
		{"duplicate key", "machine:\n  software: a\n  software: b\n",
			[]fieldErr{{3, "machine.software", lablink.ErrDuplicateKey}}},
		{"every problem at once", "db:\n  port: x\n  nope: 1\nmachine:\n  ami_id: 7\nextra: 1\n",
			[]fieldErr{
				{2, "db.port", lablink.ErrWrongType},
				{3, "db.nope", lablink.ErrUnknownKey},
				{5, "machine.ami_id", lablink.ErrWrongType},
				{6, "extra", lablink.ErrUnknownKey},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lablink.ParseConfig([]byte(tt.yaml))
			if err == nil {
				t.Fatal("ParseConfig succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, fieldErrors(t, err), cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("errors (-want +got):\n%s\nerror text:\n%v", diff, err)
			}
		})
	}
}

func TestParseConfigSyntaxError(t *testing.T) {
	if _, err := lablink.ParseConfig([]byte("machine: [\n")); err == nil {
		t.Fatal("want a syntax error")
	}
}

func TestLoadConfigNamesFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("app:\n  regoin: us-west-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := lablink.LoadConfig(path)
	want := path + ":2: app.regoin: unknown key"
	if err == nil || err.Error() != want {
		t.Fatalf("LoadConfig error = %v, want %q", err, want)
	}
	if _, err := lablink.LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: error = %v, want os.ErrNotExist", err)
	}
}

// hostile values for the fields that reach the boot script: each must be
// rejected by Validate naming the field.
var hostile = []string{
	`g4dn.xlarge"; rm -rf /; echo "`,
	"g4dn.xlarge\nexport X=1",
	`a\b`,
	"${jndi}",
	"%{if true}x%{endif}",
	"$(id)",
	"`id`",
	"a b",
	"a\tb",
	"a\x00b",
	"a'b",
	"ｇ4dn.xlarge", // full-width look-alike
	"",
}

func TestValidateBootValues(t *testing.T) {
	fields := map[string]func(*lablink.Config, string){
		"machine.machine_type": func(c *lablink.Config, s string) { c.Machine.MachineType = s },
		"machine.image":        func(c *lablink.Config, s string) { c.Machine.Image = s },
		"machine.ami_id":       func(c *lablink.Config, s string) { c.Machine.AMIID = s },
		"machine.repository":   func(c *lablink.Config, s string) { c.Machine.Repository = s },
		"machine.software":     func(c *lablink.Config, s string) { c.Machine.Software = s },
		"machine.extension":    func(c *lablink.Config, s string) { c.Machine.Extension = s },
		"app.region":           func(c *lablink.Config, s string) { c.App.Region = s },
		"allocator.image_tag":  func(c *lablink.Config, s string) { c.Allocator.ImageTag = s },
		"bucket_name":          func(c *lablink.Config, s string) { c.BucketName = s },
	}
	for path, set := range fields {
		for _, v := range hostile {
			if path == "machine.repository" && v == "" {
				continue // an empty repository means none
			}
			t.Run(path+"/"+v, func(t *testing.T) {
				c := lablink.DefaultConfig()
				set(&c, v)
				got := fieldErrors(t, c.Validate())
				want := []fieldErr{{0, path, lablink.ErrInvalidValue}}
				if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
					t.Errorf("Validate (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestValidateAcceptsGoodValues(t *testing.T) {
	good := []func(*lablink.Config){
		func(c *lablink.Config) { c.Machine.MachineType = "p4d.24xlarge" },
		func(c *lablink.Config) { c.Machine.MachineType = "u-6tb1.metal" },
		func(c *lablink.Config) { c.Machine.Image = "nginx" },
		func(c *lablink.Config) { c.Machine.Image = "localhost:5000/team/img_x:1.2-rc.1" },
		func(c *lablink.Config) {
			c.Machine.Image = "ghcr.io/a/b@sha256:" + strings.Repeat("ab", 32)
		},
		func(c *lablink.Config) { c.Machine.AMIID = "ami-12345678" },
		func(c *lablink.Config) { c.Machine.Repository = "git@github.com:talmolab/sleap.git" },
		func(c *lablink.Config) { c.Machine.Repository = "https://github.com/talmolab/sleap-tutorial-data.git" },
		func(c *lablink.Config) { c.App.Region = "us-gov-west-1" },
		func(c *lablink.Config) {
			c.DNS = lablink.DNS{Enabled: true, Domain: ".lablink.sleap.ai", CustomSubdomain: ".dev", Pattern: "custom"}
		},
		func(c *lablink.Config) { c.StartupScript.SuccessCheck = "curl -fsS \"$URL\" | grep `ok` ${x}\n" },
		func(c *lablink.Config) { c.StartupScript.Enabled = true; c.StartupScript.Path = "s.sh" },
		func(c *lablink.Config) { c.StartupScript.BaseDelaySeconds = 0 },
	}
	for i, edit := range good {
		c := lablink.DefaultConfig()
		edit(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("case %d: Validate() = %v, want nil", i, err)
		}
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name string
		edit func(*lablink.Config)
		path string
	}{
		{"ssl.provider enum", func(c *lablink.Config) { c.SSL.Provider = "letsencrypt-staging" }, "ssl.provider"},
		{"dns.pattern enum", func(c *lablink.Config) { c.DNS.Pattern = "wildcard" }, "dns.pattern"},
		{"startup_script.on_error enum", func(c *lablink.Config) { c.StartupScript.OnError = "retry" }, "startup_script.on_error"},
		{"eip.strategy enum", func(c *lablink.Config) { c.EIP.Strategy = "static" }, "eip.strategy"},
		{"dns.enabled needs a domain", func(c *lablink.Config) { c.DNS.Enabled = true }, "dns.domain"},
		{"dns.enabled needs more than dots", func(c *lablink.Config) { c.DNS.Enabled = true; c.DNS.Domain = "..." }, "dns.domain"},
		{"domain label is RFC 1123", func(c *lablink.Config) { c.DNS.Domain = "under_score.example.com" }, "dns.domain"},
		{"domain empty inner label", func(c *lablink.Config) { c.DNS.Domain = "a..b" }, "dns.domain"},
		{"domain label hyphen edge", func(c *lablink.Config) { c.DNS.Domain = "-a.example.com" }, "dns.domain"},
		{"domain label too long", func(c *lablink.Config) { c.DNS.Domain = strings.Repeat("a", 64) + ".com" }, "dns.domain"},
		{"app_name label", func(c *lablink.Config) { c.DNS.AppName = "lab link" }, "dns.app_name"},
		{"custom_subdomain label", func(c *lablink.Config) { c.DNS.CustomSubdomain = "$(id)" }, "dns.custom_subdomain"},
		{"db.port range", func(c *lablink.Config) { c.DB.Port = 70000 }, "db.port"},
		{"db.host", func(c *lablink.Config) { c.DB.Host = " " }, "db.host"},
		{"db.dbname", func(c *lablink.Config) { c.DB.DBName = "" }, "db.dbname"},
		{"app.admin_user", func(c *lablink.Config) { c.App.AdminUser = "" }, "app.admin_user"},
		{"max_attempts at least 1", func(c *lablink.Config) { c.StartupScript.MaxAttempts = 0 }, "startup_script.max_attempts"},
		{"base delay not negative", func(c *lablink.Config) { c.StartupScript.BaseDelaySeconds = -1 }, "startup_script.base_delay_seconds"},
		{"enabled startup script needs a path", func(c *lablink.Config) { c.StartupScript.Enabled = true }, "startup_script.path"},
		{"ami id length", func(c *lablink.Config) { c.Machine.AMIID = "ami-123" }, "machine.ami_id"},
		{"repository scheme", func(c *lablink.Config) { c.Machine.Repository = "ftp://x/y" }, "machine.repository"},
		{"repository None is not special", func(c *lablink.Config) { c.Machine.Repository = "None" }, "machine.repository"},
		{"image uppercase", func(c *lablink.Config) { c.Machine.Image = "GHCR.io/x" }, "machine.image"},
		{"very long image", func(c *lablink.Config) { c.Machine.Image = strings.Repeat("a", 300) }, "machine.image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := lablink.DefaultConfig()
			tt.edit(&c)
			got := fieldErrors(t, c.Validate())
			want := []fieldErr{{0, tt.path, lablink.ErrInvalidValue}}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := lablink.DefaultConfig()
	c.SSL.Provider = "x"
	c.DNS.Pattern = "y"
	c.Machine.MachineType = "$(id)"
	c.StartupScript.OnError = "z"
	err := c.Validate()
	var paths []string
	for _, fe := range fieldErrors(t, err) {
		paths = append(paths, fe.Path)
	}
	want := []string{"machine.machine_type", "dns.pattern", "ssl.provider", "startup_script.on_error"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	if !strings.Contains(err.Error(), `machine.machine_type: invalid value: "$(id)" holds a '$'`) {
		t.Errorf("error text does not say what is wrong:\n%v", err)
	}
}

func TestValidateLogGroupAndEnvironment(t *testing.T) {
	for _, ok := range []string{"", "/aws/ec2/lablink-client", "lablink_logs.2#x"} {
		if err := lablink.ValidateLogGroup(ok); err != nil {
			t.Errorf("ValidateLogGroup(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"None$", "a b", "x\ny", `"`} {
		if err := lablink.ValidateLogGroup(bad); err == nil {
			t.Errorf("ValidateLogGroup(%q) = nil, want error", bad)
		}
	}
	for _, ok := range []string{"prod", "test", "staging-env", "ci42"} {
		if err := lablink.ValidateEnvironment(ok); err != nil {
			t.Errorf("ValidateEnvironment(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Prod", "a b", "-x", "x-", "a;b", "$(id)"} {
		if err := lablink.ValidateEnvironment(bad); err == nil {
			t.Errorf("ValidateEnvironment(%q) = nil, want error", bad)
		}
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""}, {".", ""}, {"Example.COM", "example.com"}, {".lablink.sleap.ai", "lablink.sleap.ai"},
		{"a.b.", "a.b"}, {"xn--bcher-kva.example", "xn--bcher-kva.example"},
	}
	for _, tt := range tests {
		got, err := lablink.NormalizeHost(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"a..b", "a_b.com", "-a.com", "a-.com", "bücher.de", "\u212Aelvin.org", "a b", strings.Repeat("a.", 127) + "ab"} {
		if _, err := lablink.NormalizeHost(bad); !errors.Is(err, lablink.ErrInvalidHostname) {
			t.Errorf("NormalizeHost(%q) error = %v, want ErrInvalidHostname", bad, err)
		}
	}
}
