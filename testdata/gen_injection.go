//go:build ignore

// gen_injection writes injection.json, the corpus of hostile values the
// injection tests put into every string field of config.yaml. Run it from the
// repository root with `go run testdata/gen_injection.go` after editing the
// lists below; the output is committed so that a change of the corpus shows in review.
package main

import (
	"encoding/json"
	"log"
	"os"
	"strings"
)

// payloads are hostile on their own: they end quoting, expand, substitute,
// split lines, end heredocs, or look like something they are not.
var payloads = []string{
	// quoting
	`'`, `"`, `''`, `""`, `'\''`, `"'"'"`, `\`, `\\`, `\'`, `\"`, `\n`, `\x00`,
	// shell expansion and substitution
	`$HOME`, `${HOME}`, `$(pwned)`, "`pwned`", `$((1+1))`, `$'\x41'`, `${IFS}`,
	`$(pwned>&2)`, `;pwned`, `&&pwned`, `||pwned`, `|pwned`, `&pwned&`, `>pwned`,
	`<pwned`, `2>&1`, `*`, `?`, `[a-z]`, `~`, `~root`, `!!`, `{a,b}`, `#comment`,
	`-rf`, `--help`, `-e pwned`,
	// OpenTofu template and HCL syntax
	`${pwned}`, `$${pwned}`, `%{if true}x%{endif}`, `%%{pwned}`, `${file("/etc/passwd")}`,
	`${jsonencode({})}`, `}"`, `"}`, `" + "`, `<<EOT`, `<<-EOT`,
	// line structure
	"\n", "\r", "\r\n", "a\nb", "a\rb", "\t", "\v", "\f", "\x00", "a\x00b",
	"\x1b[31m", "\x7f", "\npwned\n", "x\n#!/bin/bash\npwned",
	// heredoc terminators and env-file lines
	"EOF", "\nEOF\n", "END", "\nEOT\n", "'EOF'", "\nEOF\npwned\ncat <<EOF\n",
	"X=1\nPWNED=1", "=", "A=B", "export PWNED=1",
	// YAML and JSON look-alikes
	`null`, `~`, `true`, `0x10`, `1e3`, `{}`, `[]`, `- a`, `a: b`, `&anchor`, `*alias`,
	`!!binary`, `%YAML 1.2`, `---`, `...`, `{"a":1}`,
	// unicode look-alikes and invisible characters
	"＄(pwned)", "＂", "＇", "‘", "’", "“", "”", "ˮ", "а", "ɡ4dn.xlarge",
	"\u200b", "\u200e", "\u202e", "\u2028", "\u2029", "\ufeff", "\u00a0",
	"é", "e\u0301", "💥", "🄰", "ℌ", "\u0000",
}

// prefixes are valid-looking starts of real values; a payload after them
// must not survive a format check that only looks at the start.
var prefixes = []string{
	"g4dn.xlarge",
	"https://github.com/org/repo.git",
	"ghcr.io/org/image:tag",
	"ami-0123456789abcdef0",
	"us-west-2",
}

func main() {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range payloads {
		add(p)
	}
	for _, pre := range prefixes {
		for _, p := range payloads[:40] {
			add(pre + p)
		}
	}
	for _, p := range []string{`$(pwned)`, "\n", `'`, "`pwned`", `${pwned}`} {
		add(p + "g4dn.xlarge")
		add("ok" + p + "ok")
	}
	// Very long values: past every length limit, and long enough to hit
	// buffer sizes of the tools on the way.
	add(strings.Repeat("a", 256))
	add(strings.Repeat("a", 4097))
	add(strings.Repeat("$(pwned)", 1000))
	add(strings.Repeat("'", 10000))
	add(strings.Repeat("é", 70000))

	f, err := os.Create("testdata/injection.json")
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %d values", len(out))
}
