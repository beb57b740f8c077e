package lablink

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// S3's naming rules for general purpose buckets (Amazon S3 User Guide,
// "General purpose bucket naming rules"): the prefixes and suffixes S3
// keeps for itself.
var (
	bucketReservedPrefixes = []string{"xn--", "sthree-", "amzn-s3-demo-"}
	bucketReservedSuffixes = []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}
)

// checkBucketName applies every S3 naming rule to name and reports each
// one it breaks, with the name to write where one can be derived.
func checkBucketName(name string) error {
	if name == "" {
		return errors.New(`empty; write the name of the S3 bucket that holds the OpenTofu state, such as tf-state-my-lab`)
	}
	var why []string
	if n := len(name); n < 3 || n > 63 {
		why = append(why, fmt.Sprintf("it has %d characters, and a bucket name has 3 to 63", n))
	}
	if strings.ToLower(name) != name {
		why = append(why, fmt.Sprintf("it holds capital letters, and a bucket name has none (%q)", strings.ToLower(name)))
	}
	if c, ok := bucketBadChar(name); ok {
		why = append(why, fmt.Sprintf("it holds %s, and a bucket name has only lowercase letters, digits, '.' and '-'", c))
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		why = append(why, "it starts or ends with something other than a letter or digit")
	}
	if strings.Contains(name, "..") {
		why = append(why, "it holds two dots in a row")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		why = append(why, "it is an IP address")
	}
	for _, p := range bucketReservedPrefixes {
		if strings.HasPrefix(name, p) {
			why = append(why, fmt.Sprintf("it starts with %q, which S3 reserves", p))
		}
	}
	for _, s := range bucketReservedSuffixes {
		if strings.HasSuffix(name, s) {
			why = append(why, fmt.Sprintf("it ends with %q, which S3 reserves", s))
		}
	}
	if len(why) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%q is not an S3 bucket name: %s", name, strings.Join(why, "; "))
	if strings.Contains(name, "YOUR") {
		msg += `; it looks like the template's placeholder: replace YOUR-ORG with your own name`
	}
	return errors.New(msg)
}

// bucketBadChar names the first character S3 does not allow, ignoring
// capital letters, which have their own rule.
func bucketBadChar(name string) (string, bool) {
	for _, r := range name {
		switch {
		case alnum(byte(r)) && r < 0x80, r == '.', r == '-', 'A' <= r && r <= 'Z':
		case r == ' ':
			return "a space", true
		default:
			return fmt.Sprintf("%q", r), true
		}
	}
	return "", false
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
