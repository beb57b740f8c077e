package lablink

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Allowed values of the enumerated keys.
var (
	SSLProviders   = []string{"none", "letsencrypt", "cloudflare", "acm", "self_signed"}
	DNSPatterns    = []string{"", "auto", "app-only", "custom"}
	OnErrorActions = []string{"continue", "fail"}
	EIPStrategies  = []string{"dynamic", "persistent"}
	Providers      = []string{"aws", "manual"}
	// Connectivities and ParticipantExposures are the values of
	// manual.connectivity and manual.participant_exposure.
	Connectivities       = []string{"lan_direct", "mesh_overlay", "reverse_tunnel"}
	ParticipantExposures = []string{"none", "tailscale_funnel", "cloudflare_tunnel"}
)

// Placeholder secrets: the unfilled default of today's upstream schema and
// the prefix of the literals lablink-template commits for its deploy
// workflow to replace.
const (
	MissingSecret     = "MISSING"
	PlaceholderPrefix = "PLACEHOLDER_"
)

// IsUnresolvedSecret reports whether s is a placeholder rather than a real
// credential.
func IsUnresolvedSecret(s string) bool {
	return s == MissingSecret || strings.HasPrefix(s, PlaceholderPrefix)
}

// weakPasswords are refused for an allocator published to the internet
// (upstream's list, compared case-insensitively, with its minimum length).
var weakPasswords = []string{"", "123456", "admin", "password", "changeme", "placeholder_admin_password"}

const minPublicPasswordLen = 12

// format is a strict pattern for a value that may reach the client VM's
// boot script. The patterns admit no quote, backslash, '$', backtick,
// white space or control character; badChar names such a character first
// so the error says what is wrong rather than only that the pattern failed.
type format struct {
	re   *regexp.Regexp
	want string
	max  int
}

var (
	instanceTypeFormat = format{regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`), "an EC2 instance type such as g4dn.xlarge", 64}
	// A container image reference: registry/path[:tag][@sha256:digest].
	imageFormat      = format{regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`), "a container image such as ghcr.io/org/image:tag", 255}
	amiFormat        = format{regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`), "an AMI id such as ami-00c257e12d6828491", 21}
	repositoryFormat = format{regexp.MustCompile(`^(https://|http://|ssh://|git@)[A-Za-z0-9._~:/@%+=-]+$`), "a git URL such as https://github.com/org/repo.git", 512}
	softwareFormat   = format{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`), "a name of letters, digits, '.', '_' and '-'", 64}
	extensionFormat  = format{regexp.MustCompile(`^[A-Za-z0-9]+$`), "a file extension of letters and digits, without the dot", 16}
	regionFormat     = format{regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`), "an AWS region such as us-west-2", 32}
	imageTagFormat   = format{regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`), "a container image tag", 128}
	bucketFormat     = format{regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`), "an S3 bucket name", 63}
	logGroupFormat   = format{regexp.MustCompile(`^[A-Za-z0-9_/.#-]+$`), "a CloudWatch log group name", 512}
	envFormat        = format{regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`), "an environment name of lowercase letters, digits and inner hyphens", 32}
	deploymentFormat = format{regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$`), "a deployment name of 3 to 32 lowercase letters, digits and inner hyphens", 32}
	// A public host name is a bare FQDN: at least two labels, no scheme,
	// port or path (upstream interpolates it into "https://{host}").
	publicHostFormat = format{regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`), "a bare host name such as lab.example.org, without scheme, port or path", 253}
)

func (f format) check(s string) error {
	if c, ok := badChar(s); ok {
		return fmt.Errorf("%q holds %s; want %s", s, c, f.want)
	}
	if len(s) > f.max {
		return fmt.Errorf("%d characters, at most %d; want %s", len(s), f.max, f.want)
	}
	if !f.re.MatchString(s) {
		return fmt.Errorf("%q is not %s", s, f.want)
	}
	return nil
}

// badChar finds the first character that must never reach a shell script.
func badChar(s string) (string, bool) {
	for _, r := range s {
		switch {
		case r == '"' || r == '\'':
			return "a quote", true
		case r == '\\':
			return "a backslash", true
		case r == '$':
			return "a '$'", true
		case r == '`':
			return "a backtick", true
		case unicode.IsSpace(r):
			return "white space", true
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			return fmt.Sprintf("control character %U", r), true
		case r > unicode.MaxASCII:
			return fmt.Sprintf("non-ASCII character %q", r), true
		}
	}
	return "", false
}

// ValidateLogGroup checks a CloudWatch log group name (upstream env
// CLOUD_INIT_LOG_GROUP) before it reaches the boot script. "" is valid and
// means no log group.
func ValidateLogGroup(name string) error {
	if name == "" {
		return nil
	}
	return logGroupFormat.check(name)
}

// ValidateEnvironment checks a normalized environment name (see
// allocurl.NormalizeEnvironment), which becomes the resource suffix of
// every client VM and, with dns.pattern "auto", a DNS label.
func ValidateEnvironment(env string) error {
	return envFormat.check(env)
}

// Validate reports every problem of c at once (errors.Join of *FieldError,
// each wrapping ErrInvalidValue and naming its YAML path), or nil. Every
// value that reaches the client VM's boot script must match a strict
// format that admits no quote, backslash, '$', backtick, white space or
// control character, so no value can break the tfvars file or be
// interpreted by the shell.
//
// Validate also applies today's upstream cross-field rules: ssl.provider
// other than "none" needs dns.enabled; letsencrypt needs ssl.email; acm
// needs ssl.certificate_arn; cloudflare needs dns.terraform_managed false;
// dns.domain may not start or end with a dot; and the rules of provider
// "manual".
func (c Config) Validate() error {
	var v validator
	if c.DeploymentName != "" {
		v.format("deployment_name", c.DeploymentName, deploymentFormat)
	}
	v.format("environment", NormalizeEnvironment(c.Environment), envFormat)
	v.oneOf("provider", c.Provider, Providers)
	v.port("db.port", c.DB.Port)
	v.nonEmpty("db.dbname", c.DB.DBName)
	v.nonEmpty("db.host", c.DB.Host)
	v.app(c.App)
	v.machine(c.Machine)
	v.dns(c.DNS)
	v.oneOf("eip.strategy", c.EIP.Strategy, EIPStrategies)
	v.oneOf("ssl.provider", c.SSL.Provider, SSLProviders)
	v.sslNeeds(c)
	v.format("allocator.image_tag", c.Allocator.ImageTag, imageTagFormat)
	v.format("bucket_name", c.BucketName, bucketFormat)
	v.startupScript(c.StartupScript)
	v.monitoring(c.Monitoring)
	v.manual(c)
	return errors.Join(v.errs...)
}

func (v *validator) app(a App) {
	v.nonEmpty("app.admin_user", a.AdminUser)
	v.format("app.region", a.Region, regionFormat)
	if a.AdminSessionTimeoutMinutes < 1 {
		v.add("app.admin_session_timeout_minutes", fmt.Errorf("%d; want at least 1", a.AdminSessionTimeoutMinutes))
	}
}

// machine checks the values that reach the client VM's boot script.
func (v *validator) machine(m Machine) {
	v.format("machine.machine_type", m.MachineType, instanceTypeFormat)
	v.format("machine.image", m.Image, imageFormat)
	v.format("machine.ami_id", m.AMIID, amiFormat)
	if m.Repository != "" {
		v.format("machine.repository", m.Repository, repositoryFormat)
	}
	v.format("machine.software", m.Software, softwareFormat)
	v.format("machine.extension", m.Extension, extensionFormat)
}

// dns checks every part of the host name the way allocurl joins them.
func (v *validator) dns(d DNS) {
	v.oneOf("dns.pattern", d.Pattern, DNSPatterns)
	domain := v.host("dns.domain", d.Domain)
	v.host("dns.app_name", d.AppName)
	v.host("dns.custom_subdomain", d.CustomSubdomain)
	if d.Enabled && domain == "" {
		v.add("dns.domain", errors.New("dns.enabled is true, so a domain is required"))
	}
	if strings.HasPrefix(d.Domain, ".") || strings.HasSuffix(d.Domain, ".") {
		v.add("dns.domain", fmt.Errorf("%q starts or ends with a dot", d.Domain))
	}
}

func (v *validator) startupScript(s StartupScript) {
	v.oneOf("startup_script.on_error", s.OnError, OnErrorActions)
	if s.MaxAttempts < 1 {
		v.add("startup_script.max_attempts", fmt.Errorf("%d; want at least 1", s.MaxAttempts))
	}
	if s.BaseDelaySeconds < 0 {
		v.add("startup_script.base_delay_seconds", fmt.Errorf("%d; want 0 or more", s.BaseDelaySeconds))
	}
	if s.Enabled && s.Path == "" {
		v.add("startup_script.path", errors.New("startup_script.enabled is true, so a path is required"))
	}
}

func (v *validator) monitoring(m Monitoring) {
	if m.SampleIntervalSeconds < 1 {
		v.add("monitoring.sample_interval_seconds", fmt.Errorf("%d; want at least 1", m.SampleIntervalSeconds))
	}
	if m.PushIntervalSeconds < 1 {
		v.add("monitoring.push_interval_seconds", fmt.Errorf("%d; want at least 1", m.PushIntervalSeconds))
	}
}

// sslNeeds applies upstream's rules of what each TLS provider needs.
func (v *validator) sslNeeds(c Config) {
	switch p := c.SSL.Provider; {
	case p == "none" || !slices.Contains(SSLProviders, p):
		return
	case !c.DNS.Enabled:
		v.add("ssl.provider", fmt.Errorf(`%q needs dns.enabled (use "none" for plain HTTP)`, p))
	}
	switch c.SSL.Provider {
	case "letsencrypt":
		if strings.TrimSpace(c.SSL.Email) == "" {
			v.add("ssl.email", errors.New(`required when ssl.provider is "letsencrypt"`))
		}
	case "acm":
		if strings.TrimSpace(c.SSL.CertificateARN) == "" {
			v.add("ssl.certificate_arn", errors.New(`required when ssl.provider is "acm"`))
		}
	case "cloudflare":
		if c.DNS.TerraformManaged {
			v.add("dns.terraform_managed", errors.New(`must be false when ssl.provider is "cloudflare" (Cloudflare manages the DNS)`))
		}
	}
}

// manual applies upstream's rules for provider "manual": how clients and
// participants reach an allocator outside AWS.
func (v *validator) manual(c Config) {
	m := c.Manual
	v.oneOf("manual.connectivity", m.Connectivity, Connectivities)
	v.oneOf("manual.participant_exposure", m.ParticipantExposure, ParticipantExposures)
	exposed := m.ParticipantExposure != "none" && slices.Contains(ParticipantExposures, m.ParticipantExposure)
	if exposed && m.Connectivity == "lan_direct" {
		v.add("manual.connectivity", fmt.Errorf(`"lan_direct" cannot serve participants through %q: their browsers would connect to a client's LAN address; use "mesh_overlay"`, m.ParticipantExposure))
	}
	if m.ParticipantExposure == "cloudflare_tunnel" {
		if m.PublicHostname == "" {
			v.add("manual.public_hostname", errors.New(`required when manual.participant_exposure is "cloudflare_tunnel"`))
		} else {
			v.format("manual.public_hostname", m.PublicHostname, publicHostFormat)
		}
	}
	if (m.Connectivity == "mesh_overlay" || m.ParticipantExposure == "tailscale_funnel") && m.OverlayTailnet == "" {
		v.add("manual.overlay_tailnet", errors.New(`required when manual.connectivity is "mesh_overlay" or manual.participant_exposure is "tailscale_funnel"`))
	}
	if m.ParticipantExposure == "tailscale_funnel" && c.App.AdminPassword != MissingSecret && weakPassword(c.App.AdminPassword) {
		v.add("app.admin_password", fmt.Errorf("too weak for an allocator published through Tailscale Funnel: want at least %d characters and no well-known value", minPublicPasswordLen))
	}
}

func weakPassword(p string) bool {
	return slices.Contains(weakPasswords, strings.ToLower(p)) || len(p) < minPublicPasswordLen
}

type validator struct{ errs []error }

func (v *validator) add(path string, err error) {
	v.errs = append(v.errs, &FieldError{Path: path, Err: fmt.Errorf("%w: %w", ErrInvalidValue, err)})
}

func (v *validator) format(path, s string, f format) {
	if s == "" {
		v.add(path, fmt.Errorf("empty; want %s", f.want))
		return
	}
	if err := f.check(s); err != nil {
		v.add(path, err)
	}
}

func (v *validator) nonEmpty(path, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(path, errors.New("empty"))
	}
}

func (v *validator) oneOf(path, s string, allowed []string) {
	if !slices.Contains(allowed, s) {
		quoted := make([]string, len(allowed))
		for i, a := range allowed {
			quoted[i] = fmt.Sprintf("%q", a)
		}
		v.add(path, fmt.Errorf("%q; want one of %s", s, strings.Join(quoted, ", ")))
	}
}

func (v *validator) port(path string, p int) {
	if p < 1 || p > 65535 {
		v.add(path, fmt.Errorf("%d; want 1 to 65535", p))
	}
}

// host checks a DNS name or label the way allocurl will use it and returns
// the normalized name.
func (v *validator) host(path, s string) string {
	h, err := NormalizeHost(s)
	if err != nil {
		v.add(path, err)
	}
	return h
}
