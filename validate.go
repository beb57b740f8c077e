package lablink

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// The allowed values of the enumerated keys. Each function returns a new
// slice, so a caller may keep or change it.

// SSLProviders returns the values of ssl.provider.
func SSLProviders() []string {
	return []string{"none", "letsencrypt", "cloudflare", "acm", "self_signed"}
}

// DNSPatterns returns the values of the deprecated dns.pattern.
func DNSPatterns() []string { return []string{"", "auto", "app-only", "custom"} }

// OnErrorActions returns the values of startup_script.on_error.
func OnErrorActions() []string { return []string{"continue", "fail"} }

// EIPStrategies returns the values of eip.strategy.
func EIPStrategies() []string { return []string{"dynamic", "persistent"} }

// Providers returns the values of provider.
func Providers() []string { return []string{"aws", "manual"} }

// Connectivities returns the values of manual.connectivity.
func Connectivities() []string { return []string{"lan_direct", "mesh_overlay", "reverse_tunnel"} }

// ParticipantExposures returns the values of manual.participant_exposure.
func ParticipantExposures() []string {
	return []string{"none", "tailscale_funnel", "cloudflare_tunnel"}
}

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

// Validate reports every problem of c at once (errors.Join of *FieldError,
// each wrapping ErrInvalidValue and naming its YAML path), or nil. Each
// error says what is wrong with the value and what to write instead; a
// rule that another key's value triggers names that key and value, and
// says "(the default)" when the value is the default.
//
// Every value that reaches the client VM's boot script must match a strict
// format that admits no quote, backslash, '$', backtick, white space or
// control character, so no value can break the tfvars file or be
// interpreted by the shell. bucket_name must follow every S3 naming rule.
//
// Validate also applies today's upstream cross-field rules: ssl.provider
// other than "none" needs dns.enabled; letsencrypt needs ssl.email; acm
// needs ssl.certificate_arn; cloudflare needs dns.terraform_managed false;
// dns.domain may not start or end with a dot; and the rules of provider
// "manual".
func (c Config) Validate() error { return c.validate(nil) }

// validate is Validate; set, when not nil, tells which keys the file
// holds, so that a rule triggered by a default says the file left it out.
func (c Config) validate(set func(path string) bool) error {
	v := validator{set: set}
	if c.DeploymentName != "" {
		v.format("deployment_name", c.DeploymentName, deploymentFormat)
	}
	v.format("environment", NormalizeEnvironment(c.Environment), envFormat)
	v.oneOf("provider", c.Provider, Providers())
	v.db(c.DB)
	v.app(c.App)
	v.machine(c.Machine)
	v.dns(c.DNS)
	v.oneOf("eip.strategy", c.EIP.Strategy, EIPStrategies())
	v.oneOf("ssl.provider", c.SSL.Provider, SSLProviders())
	v.sslNeeds(c)
	v.format("allocator.image_tag", c.Allocator.ImageTag, imageTagFormat)
	if err := checkBucketName(c.BucketName); err != nil {
		v.add("bucket_name", err)
	}
	v.startupScript(c.StartupScript)
	v.monitoring(c.Monitoring)
	v.manual(c)
	return errors.Join(v.errs...)
}

// db checks the keys upstream has since fixed; the remedy is to drop them.
func (v *validator) db(d DB) {
	if d.Port < 1 || d.Port > 65535 {
		v.add("db.port", fmt.Errorf("%d is not a TCP port; write 1 to 65535, or remove the key (upstream removed it) to use 5432", d.Port))
	}
	for _, f := range []struct{ path, value string }{{"db.dbname", d.DBName}, {"db.host", d.Host}} {
		if strings.TrimSpace(f.value) == "" {
			def, _ := defaultText(f.path)
			v.add(f.path, fmt.Errorf("empty; remove the key (upstream removed it) to use the default %s", def))
		}
	}
}

func (v *validator) app(a App) {
	if strings.TrimSpace(a.AdminUser) == "" {
		v.add("app.admin_user", errors.New("empty; write the user name the admin signs in with"))
	}
	v.format("app.region", a.Region, regionFormat)
	v.atLeast("app.admin_session_timeout_minutes", a.AdminSessionTimeoutMinutes, 1, "minutes")
}

// machine checks the values that reach the client VM's boot script.
func (v *validator) machine(m Machine) {
	v.format("machine.machine_type", m.MachineType, instanceTypeFormat)
	v.format("machine.image", m.Image, imageFormat)
	v.format("machine.ami_id", m.AMIID, amiFormat)
	switch m.Repository {
	case "":
	case "None":
		// What upstream wrote for a missing repository.
		v.add("machine.repository", errors.New(`"None" is not a git URL; for no repository, remove the key or leave it empty`))
	default:
		v.format("machine.repository", m.Repository, repositoryFormat)
	}
	v.format("machine.software", m.Software, softwareFormat)
	v.format("machine.extension", m.Extension, extensionFormat)
}

// dns checks every part of the host name the way allocurl joins them.
func (v *validator) dns(d DNS) {
	v.oneOf("dns.pattern", d.Pattern, DNSPatterns())
	domain := v.host("dns.domain", d.Domain)
	v.host("dns.app_name", d.AppName)
	v.host("dns.custom_subdomain", d.CustomSubdomain)
	if d.Enabled && domain == "" {
		v.add("dns.domain", fmt.Errorf("required because %s; set dns.domain to the allocator's host name, such as lablink.example.org, or dns.enabled: false", v.is("dns.enabled", true)))
	}
	if strings.HasPrefix(d.Domain, ".") || strings.HasSuffix(d.Domain, ".") {
		v.add("dns.domain", fmt.Errorf("%q starts or ends with a dot, which upstream refuses; write %q", d.Domain, strings.Trim(d.Domain, ".")))
	}
}

func (v *validator) startupScript(s StartupScript) {
	v.oneOf("startup_script.on_error", s.OnError, OnErrorActions())
	v.atLeast("startup_script.max_attempts", s.MaxAttempts, 1, "attempts")
	v.atLeast("startup_script.base_delay_seconds", s.BaseDelaySeconds, 0, "seconds")
	if s.Enabled && s.Path == "" {
		v.add("startup_script.path", fmt.Errorf("required because %s; set startup_script.path to the script's path on the allocator, or startup_script.enabled: false", v.is("startup_script.enabled", true)))
	}
}

func (v *validator) monitoring(m Monitoring) {
	v.atLeast("monitoring.sample_interval_seconds", m.SampleIntervalSeconds, 1, "seconds")
	v.atLeast("monitoring.push_interval_seconds", m.PushIntervalSeconds, 1, "seconds")
}

// sslNeeds applies upstream's rules of what each TLS provider needs.
func (v *validator) sslNeeds(c Config) {
	const plain = `, or ssl.provider: none for plain HTTP`
	switch p := c.SSL.Provider; {
	case p == "none" || !slices.Contains(SSLProviders(), p):
		return
	case !c.DNS.Enabled:
		v.add("ssl.provider", fmt.Errorf("%s needs DNS for its certificate, but %s; set dns.enabled: true and dns.domain to the allocator's host name%s",
			v.own("ssl.provider", p), v.is("dns.enabled", false), plain))
	}
	why := "required because " + v.is("ssl.provider", c.SSL.Provider)
	switch c.SSL.Provider {
	case "letsencrypt":
		if strings.TrimSpace(c.SSL.Email) == "" {
			v.add("ssl.email", fmt.Errorf("%s; set ssl.email to the address Let's Encrypt sends certificate notices to%s", why, plain))
		}
	case "acm":
		if strings.TrimSpace(c.SSL.CertificateARN) == "" {
			v.add("ssl.certificate_arn", fmt.Errorf("%s; set ssl.certificate_arn to the ARN of the ACM certificate for dns.domain%s", why, plain))
		}
	case "cloudflare":
		if c.DNS.TerraformManaged {
			v.add("dns.terraform_managed", fmt.Errorf("must be false because %s, and Cloudflare manages the DNS records; set dns.terraform_managed: false", v.is("ssl.provider", "cloudflare")))
		}
	}
}

// manual applies upstream's rules for provider "manual": how clients and
// participants reach an allocator outside AWS.
func (v *validator) manual(c Config) {
	m := c.Manual
	v.oneOf("manual.connectivity", m.Connectivity, Connectivities())
	v.oneOf("manual.participant_exposure", m.ParticipantExposure, ParticipantExposures())
	exposure := v.is("manual.participant_exposure", m.ParticipantExposure)
	exposed := m.ParticipantExposure != "none" && slices.Contains(ParticipantExposures(), m.ParticipantExposure)
	if exposed && m.Connectivity == "lan_direct" {
		v.add("manual.connectivity", fmt.Errorf(`"lan_direct" cannot serve participants, because %s: their browsers would connect to a client's LAN address; set manual.connectivity: mesh_overlay`, exposure))
	}
	if m.ParticipantExposure == "cloudflare_tunnel" {
		if m.PublicHostname == "" {
			v.add("manual.public_hostname", fmt.Errorf("required because %s; set manual.public_hostname to the host name participants open, such as lab.example.org", exposure))
		} else if scheme, host, ok := strings.Cut(m.PublicHostname, "://"); ok {
			v.add("manual.public_hostname", fmt.Errorf("%q holds the scheme %s://; write the bare host name %q", m.PublicHostname, scheme, strings.TrimSuffix(host, "/")))
		} else {
			v.format("manual.public_hostname", m.PublicHostname, publicHostFormat)
		}
	}
	if (m.Connectivity == "mesh_overlay" || m.ParticipantExposure == "tailscale_funnel") && m.OverlayTailnet == "" {
		why := exposure
		if m.Connectivity == "mesh_overlay" {
			why = v.is("manual.connectivity", m.Connectivity)
		}
		v.add("manual.overlay_tailnet", fmt.Errorf("required because %s; set manual.overlay_tailnet to the tailnet's MagicDNS suffix, such as example.ts.net", why))
	}
	if pw := c.App.AdminPassword.Reveal(); m.ParticipantExposure == "tailscale_funnel" && pw != MissingSecret {
		if why := weakPassword(pw); why != "" {
			v.add("app.admin_password", fmt.Errorf("too weak for an allocator published through Tailscale Funnel (%s): %s; set app.admin_password to at least %d characters that are not a well-known password",
				exposure, why, minPublicPasswordLen))
		}
	}
}

// weakPassword says why p is too weak to publish, or "".
func weakPassword(p string) string {
	if p == "" {
		return "it is empty"
	}
	if slices.Contains(weakPasswords, strings.ToLower(p)) {
		return "it is a well-known password"
	}
	if len(p) < minPublicPasswordLen {
		return fmt.Sprintf("it has %d characters", len(p))
	}
	return ""
}

type validator struct {
	errs []error
	// set tells which keys the file holds; nil when that is not known.
	set func(path string) bool
}

func (v *validator) add(path string, err error) {
	v.errs = append(v.errs, &FieldError{Path: path, Err: fmt.Errorf("%w: %w", ErrInvalidValue, err)})
}

// is describes the value of path that a rule depends on: `ssl.provider
// is "letsencrypt"`, followed by "(the default, as the file does not set
// it)" or, when it is not known what the file sets, "(the default)".
func (v *validator) is(path string, val any) string {
	s := fmt.Sprintf("%s is %s", path, yamlText(val))
	switch {
	case v.set != nil && !v.set(path):
		return s + " (the default, as the file does not set it)"
	case v.set == nil && isDefault(path, val):
		return s + " (the default)"
	}
	return s
}

// own describes the value of the erring key itself: quoted, and "(the
// default)" when that is so and no file says more (a loading error's
// "(not set; default ...)" does).
func (v *validator) own(path string, val any) string {
	if v.set == nil && isDefault(path, val) {
		return yamlText(val) + " (the default)"
	}
	return yamlText(val)
}

func isDefault(path string, val any) bool {
	d, ok := DefaultConfig().Field(path)
	return ok && reflect.DeepEqual(d, val)
}

// yamlText writes a value as in the file: strings quoted.
func yamlText(val any) string {
	if s, ok := val.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(val)
}

func (v *validator) format(path, s string, f format) {
	if err := f.check(s); err != nil {
		v.add(path, err)
	}
}

func (v *validator) atLeast(path string, n, least int, unit string) {
	if n < least {
		v.add(path, fmt.Errorf("%d; write at least %d (%s)", n, least, unit))
	}
}

func (v *validator) oneOf(path, s string, allowed []string) {
	if slices.Contains(allowed, s) {
		return
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	msg := fmt.Sprintf("%q is not one of %s", s, strings.Join(quoted, ", "))
	if best, ok := nearest(s, allowed); ok {
		msg += fmt.Sprintf("; did you mean %q?", best)
	} else if best := containedIn(s, allowed); best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	}
	v.add(path, errors.New(msg))
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
