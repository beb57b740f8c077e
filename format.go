package lablink

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// format is a strict pattern for a value that may reach the client VM's
// boot script. The patterns admit no quote, backslash, '$', backtick,
// white space or control character; badChar names such a character first
// so the error says what is wrong rather than only that the pattern failed.
type format struct {
	re *regexp.Regexp
	// want says what to write, as a noun phrase with an example.
	want string
	max  int
}

var (
	instanceTypeFormat = format{regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`), "an EC2 instance type, family.size in lowercase, such as g4dn.xlarge", 64}
	// A container image reference: registry/path[:tag][@sha256:digest].
	imageFormat      = format{regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`), "a container image such as ghcr.io/org/image:tag (registry and path in lowercase)", 255}
	amiFormat        = format{regexp.MustCompile(`^ami-([0-9a-f]{8}|[0-9a-f]{17})$`), `an AMI id, "ami-" and 8 or 17 lowercase hex digits, such as ami-00c257e12d6828491`, 21}
	repositoryFormat = format{regexp.MustCompile(`^(https://|http://|ssh://|git@)[A-Za-z0-9._~:/@%+=-]+$`), "a git URL starting with https://, http://, ssh:// or git@, such as https://github.com/org/repo.git", 512}
	softwareFormat   = format{regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`), "a name of letters, digits, '.', '_' and '-', starting with a letter or digit, such as sleap", 64}
	extensionFormat  = format{regexp.MustCompile(`^[A-Za-z0-9]+$`), "a file extension of letters and digits, without the dot, such as slp", 16}
	regionFormat     = format{regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`), "an AWS region such as us-west-2", 32}
	imageTagFormat   = format{regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`), "a container image tag of letters, digits, '_', '.' and '-', such as linux-amd64-latest", 128}
	logGroupFormat   = format{regexp.MustCompile(`^[A-Za-z0-9_/.#-]+$`), "a CloudWatch log group name of letters, digits, '_', '/', '.', '#' and '-'", 512}
	envFormat        = format{regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`), "an environment name of lowercase letters, digits and inner hyphens, such as prod", 32}
	deploymentFormat = format{regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$`), "a deployment name of 3 to 32 lowercase letters, digits and inner hyphens, such as my-lab", 32}
	// A public host name is a bare FQDN: at least two labels, no scheme,
	// port or path (upstream interpolates it into "https://{host}").
	publicHostFormat = format{regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`), "a bare host name such as lab.example.org, without scheme, port or path", 253}
)

// check says what is wrong with s and what to write instead, or nil.
func (f format) check(s string) error {
	if s == "" {
		return fmt.Errorf("empty; write %s", f.want)
	}
	if c, ok := badChar(s); ok {
		return fmt.Errorf("%q holds %s; write %s", s, c, f.want)
	}
	if len(s) > f.max {
		return fmt.Errorf("%d characters, more than the %d allowed; write %s", len(s), f.max, f.want)
	}
	if !f.re.MatchString(s) {
		if lower := strings.ToLower(s); f.re.MatchString(lower) {
			return fmt.Errorf("%q holds capital letters; write it in lowercase: %q", s, lower)
		}
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
// means no log group. The error says what is wrong and what to write; the
// caller names where the value came from.
func ValidateLogGroup(name string) error {
	if name == "" {
		return nil
	}
	return logGroupFormat.check(name)
}

// ValidateEnvironment checks a normalized environment name (see
// NormalizeEnvironment), which becomes the resource suffix of every client
// VM and, with dns.pattern "auto", a DNS label. The error says what is
// wrong and what to write; the caller names where the value came from.
func ValidateEnvironment(env string) error {
	return envFormat.check(env)
}
