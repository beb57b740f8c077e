package lablink_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// TestBucketNameRules: bucket_name breaks each S3 naming rule in turn, and
// the error says which, and what to write where that can be derived.
func TestBucketNameRules(t *testing.T) {
	tests := []struct {
		name, bucket, msg string
	}{
		{"capital letters, issue 20's template placeholder", "tf-state-YOUR-ORG-lablink",
			`"tf-state-YOUR-ORG-lablink" is not an S3 bucket name: it holds capital letters, and a bucket name has none ("tf-state-your-org-lablink"); ` +
				`it looks like the template's placeholder: replace YOUR-ORG with your own name`},
		{"too short", "ab", `"ab" is not an S3 bucket name: it has 2 characters, and a bucket name has 3 to 63`},
		{"too long", strings.Repeat("a", 64), `it has 64 characters, and a bucket name has 3 to 63`},
		{"underscore", "my_bucket", `it holds '_', and a bucket name has only lowercase letters, digits, '.' and '-'`},
		{"space", "my bucket", `it holds a space, and a bucket name has only lowercase letters, digits, '.' and '-'`},
		{"non-ASCII", "bücket", `it holds 'ü'`},
		{"starts with a hyphen", "-bucket", "it starts or ends with something other than a letter or digit"},
		{"ends with a dot", "bucket.", "it starts or ends with something other than a letter or digit"},
		{"two dots", "my..bucket", "it holds two dots in a row"},
		{"IP address", "192.168.5.4", "it is an IP address"},
		{"xn-- prefix", "xn--bucket", `it starts with "xn--", which S3 reserves`},
		{"sthree- prefix", "sthree-bucket", `it starts with "sthree-", which S3 reserves`},
		{"amzn-s3-demo- prefix", "amzn-s3-demo-bucket", `it starts with "amzn-s3-demo-", which S3 reserves`},
		{"-s3alias suffix", "bucket-s3alias", `it ends with "-s3alias", which S3 reserves`},
		{"--ol-s3 suffix", "bucket--ol-s3", `it ends with "--ol-s3", which S3 reserves`},
		{".mrap suffix", "bucket.mrap", `it ends with ".mrap", which S3 reserves`},
		{"--x-s3 suffix", "bucket--x-s3", `it ends with "--x-s3", which S3 reserves`},
		{"--table-s3 suffix", "bucket--table-s3", `it ends with "--table-s3", which S3 reserves`},
		{"several rules at once", "My..Bucket_",
			`"My..Bucket_" is not an S3 bucket name: it holds capital letters, and a bucket name has none ("my..bucket_"); ` +
				`it holds '_', and a bucket name has only lowercase letters, digits, '.' and '-'; ` +
				`it starts or ends with something other than a letter or digit; it holds two dots in a row`},
		{"empty", "", "empty; write the name of the S3 bucket that holds the OpenTofu state, such as tf-state-my-lab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			c.BucketName = tt.bucket
			err := c.Validate()
			assert.Equal(t, []fieldErr{{0, "bucket_name", lablink.ErrInvalidValue}}, fieldErrors(t, err))
			assert.ErrorContains(t, err, tt.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "bucket_name: invalid value: "), "text: %v", err)
		})
	}
	for _, ok := range []string{"abc", "tf-state-lablink-allocator-bucket", "my.bucket.1", strings.Repeat("a", 63), "1.2.3"} {
		c := valid()
		c.BucketName = ok
		assert.NoError(t, c.Validate(), ok)
	}
}

// TestUnknownKeyHints: an unknown key names the key the user most likely
// meant, in its own section first.
func TestUnknownKeyHints(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"typo", "machine:\n  machine_typo: x\n",
			"line 4: machine.machine_typo: unknown key; did you mean machine_type?"},
		{"swapped letters", "app:\n  regoin: us-west-2\n",
			"line 4: app.regoin: unknown key; did you mean region?"},
		{"capitals", "machine:\n  Machine_Type: x\n",
			"line 4: machine.Machine_Type: unknown key; did you mean machine_type?"},
		{"hyphen for underscore", "startup_script:\n  max-attempts: 2\n",
			"line 4: startup_script.max-attempts: unknown key; did you mean max_attempts?"},
		{"top-level typo", "machines:\n  machine_type: x\n",
			"line 3: machines: unknown key; did you mean machine?"},
		{"key of another section", "machine:\n  region: us-west-2\n",
			"line 4: machine.region: unknown key; did you mean app.region?"},
		{"key of several sections", "dns:\n  email: a@example.org\n",
			"line 4: dns.email: unknown key; did you mean monitoring.email or ssl.email?"},
		{"nothing close: the section's keys, without the removed ones", "machine:\n  gpu: true\n",
			"line 4: machine.gpu: unknown key; the keys of machine are machine_type, repository, image, ami_id, software"},
		{"nothing close at the top", "zzz: 1\n",
			"line 3: zzz: unknown key; the top-level keys are deployment_name, environment, provider, db, app, machine, dns, eip, ssl, allocator, bucket_name, startup_script, monitoring, manual"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := lablink.ParseConfig([]byte(base + tt.yaml))
			assert.EqualError(t, err, tt.want)
			assert.ErrorIs(t, err, lablink.ErrUnknownKey)
		})
	}
}

// TestLoaderMessages: the decoder's other errors name the value found and
// what to write instead.
func TestLoaderMessages(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"quoted number", "db:\n  port: \"5432\"\n",
			`line 4: db.port: wrong type: want an integer, got string "5432"; write the number without quotes`},
		{"number for a string", "machine:\n  ami_id: 123\n",
			`line 4: machine.ami_id: wrong type: want a string, got integer 123; quote it if it is meant as text`},
		{"quoted boolean", "dns:\n  enabled: \"yes\"\n",
			`line 4: dns.enabled: wrong type: want true or false, got string "yes"; write true or false without quotes`},
		{"yes is not a boolean", "dns:\n  enabled: yes\n",
			`line 4: dns.enabled: wrong type: want true or false, got string "yes"; write true or false without quotes`},
		{"scalar for a section", "dns: on\n",
			`line 3: dns: wrong type: want a section of indented "key: value" lines, got string "on"`},
		{"scalar for a list", "monitoring:\n  process_allowlist: sleap-train\n",
			`line 4: monitoring.process_allowlist: wrong type: want a list of strings such as [a, b], got string "sleap-train"`},
		{"number in a list, on its own line", "monitoring:\n  process_allowlist:\n    - a\n    - 7\n",
			`line 6: monitoring.process_allowlist[1]: wrong type: want a string, got integer 7; quote it if it is meant as text`},
		{"duplicate key", "machine:\n  software: a\n  software: b\n",
			`line 5: machine.software: duplicate key: first set on line 4; keep one of the two`},
		{"list as a key", "machine:\n  [a, b]: x\n",
			`line 4: yaml syntax error: found an invalid key for this map; a key is a plain word such as machine_type (column 9)`},
		{"binary tag", "machine:\n  software: !!binary aGVsbG8=\n",
			`line 4: machine.software: wrong type: want a string, got a value tagged !!binary; quote it if it is meant as text`},
		{"str tag makes a string", "machine:\n  software: !!str 123\n", ""},
		{"integer too large", "db:\n  port: 18446744073709551615\n",
			`line 4: db.port: wrong type: want an integer, got integer 18446744073709551615, which is too large`},
		{"a list at the top", "- a\n", `line 1: (top level): wrong type: want a section of indented "key: value" lines, got a list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := base + tt.yaml
			if strings.HasPrefix(tt.yaml, "- ") {
				y = tt.yaml
			}
			_, _, err := lablink.ParseConfig([]byte(y))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			first, _, _ := strings.Cut(err.Error(), "\n") // a list at the top also leaves ssl unset
			assert.Equal(t, tt.want, first)
		})
	}
}

// TestNotSetNamesDefault: an error about a key the file leaves out says
// so, with the default, and names its section's line when the file has
// the section; a rule another default triggers says that too.
func TestNotSetNamesDefault(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"no ssl section (issue 20)", "machine:\n  software: sleap\n", []string{
			`ssl.provider (not set; default "letsencrypt"): invalid value: "letsencrypt" needs DNS for its certificate, but dns.enabled is false (the default, as the file does not set it); ` +
				`set dns.enabled: true and dns.domain to the allocator's host name, or ssl.provider: none for plain HTTP`,
			`ssl.email (not set): invalid value: required because ssl.provider is "letsencrypt" (the default, as the file does not set it); ` +
				`set ssl.email to the address Let's Encrypt sends certificate notices to, or ssl.provider: none for plain HTTP`,
		}},
		{"ssl section without provider: its line", "dns:\n  enabled: true\n  domain: lab.example.org\nssl:\n  certificate_arn: \"\"\n", []string{
			`line 4: ssl.email (not set): invalid value: required because ssl.provider is "letsencrypt" (the default, as the file does not set it); ` +
				`set ssl.email to the address Let's Encrypt sends certificate notices to, or ssl.provider: none for plain HTTP`,
		}},
		{"cloudflare and the terraform_managed default", "dns:\n  enabled: true\n  domain: lab.example.org\nssl:\n  provider: cloudflare\n", []string{
			`line 1: dns.terraform_managed (not set; default true): invalid value: must be false because ssl.provider is "cloudflare", and Cloudflare manages the DNS records; set dns.terraform_managed: false`,
		}},
		{"exposure with the default connectivity", "ssl:\n  provider: none\nmanual:\n  participant_exposure: cloudflare_tunnel\n  public_hostname: lab.example.org\n", []string{
			`line 3: manual.connectivity (not set; default "lan_direct"): invalid value: "lan_direct" cannot serve participants, because manual.participant_exposure is "cloudflare_tunnel": ` +
				`their browsers would connect to a client's LAN address; set manual.connectivity: mesh_overlay`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := lablink.ParseConfig([]byte(tt.yaml))
			require.Error(t, err)
			assert.Equal(t, tt.want, strings.Split(err.Error(), "\n"))
		})
	}
}
