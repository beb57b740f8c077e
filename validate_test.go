package lablink_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/lablink-go/lablink"
)

// valid is a config today's rules accept: the defaults, serving plain
// HTTP on the allocator's IP.
func valid() lablink.Config {
	c := lablink.DefaultConfig()
	c.SSL.Provider = "none"
	return c
}

// withDNS is valid with DNS on, for the TLS rows.
func withDNS(c *lablink.Config) {
	c.DNS.Enabled = true
	c.DNS.Domain = "lab.example.org"
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
		"deployment_name":      func(c *lablink.Config, s string) { c.DeploymentName = s },
	}
	for path, set := range fields {
		for _, v := range hostile {
			if (path == "machine.repository" || path == "deployment_name") && v == "" {
				continue // empty means none
			}
			t.Run(path+"/"+v, func(t *testing.T) {
				c := valid()
				set(&c, v)
				assert.Equal(t, []fieldErr{{0, path, lablink.ErrInvalidValue}}, fieldErrors(t, c.Validate()))
			})
		}
	}
}

func TestValidateAcceptsGoodValues(t *testing.T) {
	good := map[string]func(*lablink.Config){
		"large instance":     func(c *lablink.Config) { c.Machine.MachineType = "p4d.24xlarge" },
		"metal instance":     func(c *lablink.Config) { c.Machine.MachineType = "u-6tb1.metal" },
		"short image":        func(c *lablink.Config) { c.Machine.Image = "nginx" },
		"registry with port": func(c *lablink.Config) { c.Machine.Image = "localhost:5000/team/img_x:1.2-rc.1" },
		"image digest": func(c *lablink.Config) {
			c.Machine.Image = "ghcr.io/a/b@sha256:" + strings.Repeat("ab", 32)
		},
		"short AMI id":     func(c *lablink.Config) { c.Machine.AMIID = "ami-12345678" },
		"ssh repository":   func(c *lablink.Config) { c.Machine.Repository = "git@github.com:talmolab/sleap.git" },
		"https repository": func(c *lablink.Config) { c.Machine.Repository = "https://github.com/talmolab/sleap-tutorial-data.git" },
		"gov region":       func(c *lablink.Config) { c.App.Region = "us-gov-west-1" },
		"old custom pattern": func(c *lablink.Config) {
			c.DNS = lablink.DNS{Enabled: true, Domain: "lablink.sleap.ai", CustomSubdomain: ".dev", Pattern: "custom"}
		},
		"any success check": func(c *lablink.Config) { c.StartupScript.SuccessCheck = "curl -fsS \"$URL\" | grep `ok` ${x}\n" },
		"startup script":    func(c *lablink.Config) { c.StartupScript.Enabled = true; c.StartupScript.Path = "s.sh" },
		"no delay":          func(c *lablink.Config) { c.StartupScript.BaseDelaySeconds = 0 },
		"deployment name":   func(c *lablink.Config) { c.DeploymentName = "sleap-lablink" },
		"environment words": func(c *lablink.Config) { c.Environment = "Spring Term" },
		"letsencrypt":       func(c *lablink.Config) { withDNS(c); c.SSL.Provider = "letsencrypt"; c.SSL.Email = "ops@example.org" },
		"acm": func(c *lablink.Config) {
			withDNS(c)
			c.SSL.Provider, c.SSL.CertificateARN = "acm", "arn:aws:acm:us-west-2:123456789012:certificate/x"
		},
		"cloudflare":  func(c *lablink.Config) { withDNS(c); c.SSL.Provider = "cloudflare"; c.DNS.TerraformManaged = false },
		"self signed": func(c *lablink.Config) { withDNS(c); c.SSL.Provider = "self_signed" },
		"manual mesh": func(c *lablink.Config) {
			c.Provider = "manual"
			c.Manual = lablink.Manual{Connectivity: "mesh_overlay", OverlayTailnet: "lab.ts.net", ParticipantExposure: "none"}
		},
		"funnel with unresolved password": func(c *lablink.Config) {
			c.Provider, c.App.AdminPassword = "manual", lablink.MissingSecret
			c.Manual = lablink.Manual{Connectivity: "mesh_overlay", OverlayTailnet: "lab.ts.net", ParticipantExposure: "tailscale_funnel"}
		},
		"tunnel": func(c *lablink.Config) {
			c.Manual = lablink.Manual{Connectivity: "reverse_tunnel", ParticipantExposure: "cloudflare_tunnel", PublicHostname: "lab.example.org"}
		},
	}
	for name, edit := range good {
		c := valid()
		edit(&c)
		assert.NoError(t, c.Validate(), name)
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name string
		edit func(*lablink.Config)
		path string
		msg  string // after "PATH: invalid value: "
	}{
		{"ssl.provider enum", func(c *lablink.Config) { c.SSL.Provider = "letsencrypt-staging" }, "ssl.provider",
			`"letsencrypt-staging" is not one of "none", "letsencrypt", "cloudflare", "acm", "self_signed"; did you mean "letsencrypt"?`},
		{"dns.pattern enum", func(c *lablink.Config) { c.DNS.Pattern = "wildcard" }, "dns.pattern",
			`"wildcard" is not one of "", "auto", "app-only", "custom"`},
		{"startup_script.on_error enum", func(c *lablink.Config) { c.StartupScript.OnError = "retry" }, "startup_script.on_error",
			`"retry" is not one of "continue", "fail"`},
		{"eip.strategy enum", func(c *lablink.Config) { c.EIP.Strategy = "static" }, "eip.strategy",
			`"static" is not one of "dynamic", "persistent"`},
		{"provider enum", func(c *lablink.Config) { c.Provider = "gcp" }, "provider",
			`"gcp" is not one of "aws", "manual"`},
		{"dns.enabled needs a domain", func(c *lablink.Config) { c.DNS.Enabled = true }, "dns.domain",
			`required because dns.enabled is true; set dns.domain to the allocator's host name, such as lablink.example.org, or dns.enabled: false`},
		{"domain label is RFC 1123", func(c *lablink.Config) { c.DNS.Domain = "under_score.example.com" }, "dns.domain",
			`invalid host name "under_score.example.com": label "under_score" holds '_'; write only letters, digits and hyphens`},
		{"domain empty inner label", func(c *lablink.Config) { c.DNS.Domain = "a..b" }, "dns.domain",
			`invalid host name "a..b": two dots in a row; remove one`},
		{"domain label hyphen edge", func(c *lablink.Config) { c.DNS.Domain = "-a.example.com" }, "dns.domain",
			`invalid host name "-a.example.com": label "-a" starts or ends with a hyphen; remove it`},
		{"domain label too long", func(c *lablink.Config) { c.DNS.Domain = strings.Repeat("a", 64) + ".com" }, "dns.domain",
			`invalid host name "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com": label "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" has 64 characters, more than 63; shorten it`},
		{"app_name label", func(c *lablink.Config) { c.DNS.AppName = "lab link" }, "dns.app_name",
			`invalid host name "lab link": label "lab link" holds ' '; write only letters, digits and hyphens`},
		{"custom_subdomain label", func(c *lablink.Config) { c.DNS.CustomSubdomain = "$(id)" }, "dns.custom_subdomain",
			`invalid host name "$(id)": label "$(id)" holds '$'; write only letters, digits and hyphens`},
		{"db.port range", func(c *lablink.Config) { c.DB.Port = 70000 }, "db.port",
			`70000 is not a TCP port; write 1 to 65535, or remove the key (upstream removed it) to use 5432`},
		{"db.host", func(c *lablink.Config) { c.DB.Host = " " }, "db.host",
			`empty; remove the key (upstream removed it) to use the default "localhost"`},
		{"db.dbname", func(c *lablink.Config) { c.DB.DBName = "" }, "db.dbname",
			`empty; remove the key (upstream removed it) to use the default "lablink_db"`},
		{"app.admin_user", func(c *lablink.Config) { c.App.AdminUser = "" }, "app.admin_user",
			`empty; write the user name the admin signs in with`},
		{"session timeout", func(c *lablink.Config) { c.App.AdminSessionTimeoutMinutes = 0 }, "app.admin_session_timeout_minutes",
			`0; write at least 1 (minutes)`},
		{"max_attempts at least 1", func(c *lablink.Config) { c.StartupScript.MaxAttempts = 0 }, "startup_script.max_attempts",
			`0; write at least 1 (attempts)`},
		{"base delay not negative", func(c *lablink.Config) { c.StartupScript.BaseDelaySeconds = -1 }, "startup_script.base_delay_seconds",
			`-1; write at least 0 (seconds)`},
		{"enabled startup script needs a path", func(c *lablink.Config) { c.StartupScript.Enabled = true }, "startup_script.path",
			`required because startup_script.enabled is true; set startup_script.path to the script's path on the allocator, or startup_script.enabled: false`},
		{"ami id length", func(c *lablink.Config) { c.Machine.AMIID = "ami-123" }, "machine.ami_id",
			`"ami-123" is not an AMI id, "ami-" and 8 or 17 lowercase hex digits, such as ami-00c257e12d6828491`},
		{"repository scheme", func(c *lablink.Config) { c.Machine.Repository = "ftp://x/y" }, "machine.repository",
			`"ftp://x/y" is not a git URL starting with https://, http://, ssh:// or git@, such as https://github.com/org/repo.git`},
		{"repository None is not special", func(c *lablink.Config) { c.Machine.Repository = "None" }, "machine.repository",
			`"None" is not a git URL; for no repository, remove the key or leave it empty`},
		{"image uppercase", func(c *lablink.Config) { c.Machine.Image = "GHCR.io/x" }, "machine.image",
			`"GHCR.io/x" holds capital letters; write it in lowercase: "ghcr.io/x"`},
		{"very long image", func(c *lablink.Config) { c.Machine.Image = strings.Repeat("a", 300) }, "machine.image",
			`300 characters, more than the 255 allowed; write a container image such as ghcr.io/org/image:tag (registry and path in lowercase)`},
		{"deployment name too short", func(c *lablink.Config) { c.DeploymentName = "ab" }, "deployment_name",
			`"ab" is not a deployment name of 3 to 32 lowercase letters, digits and inner hyphens, such as my-lab`},
		{"deployment name uppercase", func(c *lablink.Config) { c.DeploymentName = "My-Lab" }, "deployment_name",
			`"My-Lab" holds capital letters; write it in lowercase: "my-lab"`},
		{"environment", func(c *lablink.Config) { c.Environment = "a;b" }, "environment",
			`"a;b" is not an environment name of lowercase letters, digits and inner hyphens, such as prod`},
		{"sample interval", func(c *lablink.Config) { c.Monitoring.SampleIntervalSeconds = 0 }, "monitoring.sample_interval_seconds",
			`0; write at least 1 (seconds)`},
		{"push interval", func(c *lablink.Config) { c.Monitoring.PushIntervalSeconds = -5 }, "monitoring.push_interval_seconds",
			`-5; write at least 1 (seconds)`},

		// Today's upstream cross-field rules (validate_config.py; see "Rules
		// every config must keep" in docs/upstream.md).
		{"TLS needs DNS", func(c *lablink.Config) { c.SSL.Provider = "self_signed" }, "ssl.provider",
			`"self_signed" needs DNS for its certificate, but dns.enabled is false (the default); set dns.enabled: true and dns.domain to the allocator's host name, or ssl.provider: none for plain HTTP`},
		{"letsencrypt needs an email", func(c *lablink.Config) { withDNS(c); c.SSL.Provider = "letsencrypt" }, "ssl.email",
			`required because ssl.provider is "letsencrypt" (the default); set ssl.email to the address Let's Encrypt sends certificate notices to, or ssl.provider: none for plain HTTP`},
		{"acm needs a certificate", func(c *lablink.Config) { withDNS(c); c.SSL.Provider = "acm" }, "ssl.certificate_arn",
			`required because ssl.provider is "acm"; set ssl.certificate_arn to the ARN of the ACM certificate for dns.domain, or ssl.provider: none for plain HTTP`},
		{"cloudflare needs external DNS", func(c *lablink.Config) { withDNS(c); c.SSL.Provider = "cloudflare" }, "dns.terraform_managed",
			`must be false because ssl.provider is "cloudflare", and Cloudflare manages the DNS records; set dns.terraform_managed: false`},
		{"domain leading dot", func(c *lablink.Config) { withDNS(c); c.DNS.Domain = ".example.org" }, "dns.domain",
			`".example.org" starts or ends with a dot, which upstream refuses; write "example.org"`},
		{"domain trailing dot", func(c *lablink.Config) { withDNS(c); c.DNS.Domain = "lab.example.org." }, "dns.domain",
			`"lab.example.org." starts or ends with a dot, which upstream refuses; write "lab.example.org"`},
		{"domain dot with DNS off", func(c *lablink.Config) { c.DNS.Domain = "example.org." }, "dns.domain",
			`"example.org." starts or ends with a dot, which upstream refuses; write "example.org"`},
		{"connectivity enum", func(c *lablink.Config) { c.Manual.Connectivity = "vpn" }, "manual.connectivity",
			`"vpn" is not one of "lan_direct", "mesh_overlay", "reverse_tunnel"`},
		{"exposure enum", func(c *lablink.Config) { c.Manual.ParticipantExposure = "ngrok" }, "manual.participant_exposure",
			`"ngrok" is not one of "none", "tailscale_funnel", "cloudflare_tunnel"`},
		{"exposure needs more than the LAN", func(c *lablink.Config) {
			c.Manual.ParticipantExposure, c.Manual.PublicHostname = "cloudflare_tunnel", "lab.example.org"
		}, "manual.connectivity",
			`"lan_direct" cannot serve participants, because manual.participant_exposure is "cloudflare_tunnel": their browsers would connect to a client's LAN address; set manual.connectivity: mesh_overlay`},
		{"tunnel needs a host name", func(c *lablink.Config) {
			c.Manual.Connectivity, c.Manual.ParticipantExposure = "reverse_tunnel", "cloudflare_tunnel"
		}, "manual.public_hostname",
			`required because manual.participant_exposure is "cloudflare_tunnel"; set manual.public_hostname to the host name participants open, such as lab.example.org`},
		{"tunnel host name is bare", func(c *lablink.Config) {
			c.Manual = lablink.Manual{Connectivity: "reverse_tunnel", ParticipantExposure: "cloudflare_tunnel", PublicHostname: "https://lab.example.org"}
		}, "manual.public_hostname",
			`"https://lab.example.org" holds the scheme https://; write the bare host name "lab.example.org"`},
		{"tunnel host name has a dot", func(c *lablink.Config) {
			c.Manual = lablink.Manual{Connectivity: "reverse_tunnel", ParticipantExposure: "cloudflare_tunnel", PublicHostname: "lab"}
		}, "manual.public_hostname",
			`"lab" is not a bare host name such as lab.example.org, without scheme, port or path`},
		{"mesh needs a tailnet", func(c *lablink.Config) { c.Manual.Connectivity = "mesh_overlay" }, "manual.overlay_tailnet",
			`required because manual.connectivity is "mesh_overlay"; set manual.overlay_tailnet to the tailnet's MagicDNS suffix, such as example.ts.net`},
		{"funnel needs a tailnet", func(c *lablink.Config) {
			c.Manual.Connectivity, c.Manual.ParticipantExposure = "reverse_tunnel", "tailscale_funnel"
		}, "manual.overlay_tailnet",
			`required because manual.participant_exposure is "tailscale_funnel"; set manual.overlay_tailnet to the tailnet's MagicDNS suffix, such as example.ts.net`},
		{"funnel needs a strong password", func(c *lablink.Config) {
			c.App.AdminPassword = lablink.Secret("correct-horse-battery"[:11])
			c.Manual = lablink.Manual{Connectivity: "mesh_overlay", OverlayTailnet: "lab.ts.net", ParticipantExposure: "tailscale_funnel"}
		}, "app.admin_password",
			`too weak for an allocator published through Tailscale Funnel (manual.participant_exposure is "tailscale_funnel"): it has 11 characters; set app.admin_password to at least 12 characters that are not a well-known password`},
		{"funnel refuses a known password", func(c *lablink.Config) {
			c.App.AdminPassword = "Placeholder_Admin_Password"
			c.Manual = lablink.Manual{Connectivity: "mesh_overlay", OverlayTailnet: "lab.ts.net", ParticipantExposure: "tailscale_funnel"}
		}, "app.admin_password",
			`too weak for an allocator published through Tailscale Funnel (manual.participant_exposure is "tailscale_funnel"): it is a well-known password; set app.admin_password to at least 12 characters that are not a well-known password`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			err := c.Validate()
			assert.Equal(t, []fieldErr{{0, tt.path, lablink.ErrInvalidValue}}, fieldErrors(t, err))
			assert.EqualError(t, err, tt.path+": invalid value: "+tt.msg)
		})
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := valid()
	c.SSL.Provider = "x"
	c.DNS.Pattern = "y"
	c.Machine.MachineType = "$(id)"
	c.StartupScript.OnError = "z"
	err := c.Validate()
	var paths []string
	for _, fe := range fieldErrors(t, err) {
		paths = append(paths, fe.Path)
	}
	assert.Equal(t, []string{"machine.machine_type", "dns.pattern", "ssl.provider", "startup_script.on_error"}, paths)
	assert.ErrorContains(t, err, `machine.machine_type: invalid value: "$(id)" holds a '$'`)
}

func TestValidateLogGroupAndEnvironment(t *testing.T) {
	for _, ok := range []string{"", "/aws/ec2/lablink-client", "lablink_logs.2#x"} {
		assert.NoError(t, lablink.ValidateLogGroup(ok), ok)
	}
	for _, bad := range []string{"None$", "a b", "x\ny", `"`} {
		assert.Error(t, lablink.ValidateLogGroup(bad), bad)
	}
	for _, ok := range []string{"prod", "test", "staging-env", "ci42"} {
		assert.NoError(t, lablink.ValidateEnvironment(ok), ok)
	}
	for _, bad := range []string{"", "Prod", "a b", "-x", "x-", "a;b", "$(id)"} {
		assert.Error(t, lablink.ValidateEnvironment(bad), bad)
	}
}

func TestNormalizeHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""}, {".", ""}, {"Example.COM", "example.com"}, {".lablink.sleap.ai", "lablink.sleap.ai"},
		{"a.b.", "a.b"}, {"xn--bcher-kva.example", "xn--bcher-kva.example"},
	}
	for _, tt := range tests {
		got, err := lablink.NormalizeHost(tt.in)
		assert.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"a..b", "a_b.com", "-a.com", "a-.com", "bücher.de", "\u212Aelvin.org", "a b", strings.Repeat("a.", 127) + "ab"} {
		_, err := lablink.NormalizeHost(bad)
		assert.ErrorIs(t, err, lablink.ErrInvalidHostname, bad)
	}
}

func TestIsUnresolvedSecret(t *testing.T) {
	for s, want := range map[string]bool{
		"MISSING": true, "PLACEHOLDER_ADMIN_PASSWORD": true, "PLACEHOLDER_X": true,
		"missing": false, "admin_password": false, "": false,
	} {
		assert.Equal(t, want, lablink.IsUnresolvedSecret(s), s)
	}
}
