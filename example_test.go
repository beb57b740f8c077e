package lablink_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/lablink-go/lablink"
)

// A file of an older allocator release loads, with a warning for each key
// a later release removed.
func ExampleLoadConfig() {
	cfg, warnings, err := lablink.LoadConfig("testdata/example.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warnings {
		fmt.Println(w)
	}
	fmt.Println(cfg.Machine.MachineType, cfg.SSL.Staging)
	// Output:
	// testdata/example.yaml:10: ssl.staging is deprecated: removed in allocator v0.1.0 (b1c97c5a, 2025-12-08), which refuses a file that sets it; set ssl.provider to "none" for plain HTTP
	// g5.xlarge true
}

// ParseConfig reads config.yaml content; without a file name, errors and
// warnings start with "line N:".
func ExampleParseConfig() {
	_, warnings, err := lablink.ParseConfig([]byte(`ssl:
  provider: none
machine:
  machine_typo: g5.xlarge
eip:
  tag_name: lab-eip
`))
	for _, w := range warnings {
		fmt.Println(w)
	}
	fmt.Println(err)
	fmt.Println(errors.Is(err, lablink.ErrUnknownKey))
	// Output:
	// line 6: eip.tag_name is deprecated: removed in allocator v0.1.2 (65591ab8, 2026-03-26), which refuses a file that sets it; remove it: the EIP tag derives from deployment_name and environment
	// line 4: machine.machine_typo: unknown key; did you mean machine_type?
	// true
}

// Validate reports every problem at once, each naming its key, what is
// wrong and what to write; a rule that a default triggers says so.
func ExampleConfig_Validate() {
	cfg := lablink.DefaultConfig()
	cfg.Machine.MachineType = "g4dn xlarge"
	cfg.BucketName = "tf-state-YOUR-ORG-lablink"
	err := cfg.Validate()
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		fmt.Println(e)
	}
	fmt.Println(errors.Is(err, lablink.ErrInvalidValue))
	// Output:
	// machine.machine_type: invalid value: "g4dn xlarge" holds white space; write an EC2 instance type, family.size in lowercase, such as g4dn.xlarge
	// ssl.provider: invalid value: "letsencrypt" (the default) needs DNS for its certificate, but dns.enabled is false (the default); set dns.enabled: true and dns.domain to the allocator's host name, or ssl.provider: none for plain HTTP
	// ssl.email: invalid value: required because ssl.provider is "letsencrypt" (the default); set ssl.email to the address Let's Encrypt sends certificate notices to, or ssl.provider: none for plain HTTP
	// bucket_name: invalid value: "tf-state-YOUR-ORG-lablink" is not an S3 bucket name: it holds capital letters, and a bucket name has none ("tf-state-your-org-lablink"); it looks like the template's placeholder: replace YOUR-ORG with your own name
	// true
}

// Printing, logging or encoding a config never shows its passwords;
// Reveal does, where one is needed.
func ExampleSecret() {
	cfg := lablink.DefaultConfig()
	cfg.App.AdminPassword = "correct-horse-battery-staple"

	fmt.Printf("%+v\n", cfg.App)
	b, err := json.Marshal(cfg.App)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	log.Info("loaded", "app", cfg.App, "password", cfg.App.AdminPassword)
	fmt.Println(len(cfg.App.AdminPassword.Reveal()))
	// Output:
	// {AdminUser:MISSING AdminPassword:[redacted] Region:us-west-2 AdminSessionTimeoutMinutes:30}
	// {"AdminUser":"MISSING","AdminPassword":"[redacted]","Region":"us-west-2","AdminSessionTimeoutMinutes":30}
	// level=INFO msg=loaded app="{AdminUser:MISSING AdminPassword:[redacted] Region:us-west-2 AdminSessionTimeoutMinutes:30}" password=[redacted]
	// 28
}

// Digest names a config without its secrets: changing a password keeps
// it, changing anything else does not.
func ExampleConfig_Digest() {
	a := lablink.DefaultConfig()
	b := a
	b.App.AdminPassword = "another-password-entirely"
	c := a
	c.Machine.MachineType = "g5.xlarge"
	fmt.Println(strings.HasPrefix(a.Digest(), "sha256:"), a.Digest() == b.Digest(), a.Digest() == c.Digest())
	// Output:
	// true true false
}

func ExampleNormalizeEnvironment() {
	fmt.Println(lablink.NormalizeEnvironment("  Staging Env "))
	fmt.Println(lablink.NormalizeEnvironment(""))
	// Output:
	// staging-env
	// prod
}
