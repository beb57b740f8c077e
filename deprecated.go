package lablink

import (
	"fmt"
	"strings"
)

// Deprecation describes a key that an upstream allocator release removed.
// Such keys still load, with their old meaning, and yield a Warning: an
// operator's file keeps working across releases, and says what to change.
type Deprecation struct {
	// Path is the YAML path of the key, such as "dns.pattern". A key whose
	// whole section was removed is listed by its section ("monitoring.budget").
	Path string
	// Release is the first upstream allocator release without the key.
	Release string
	// Commit and Date identify the upstream change that removed it.
	Commit string
	Date   string
	// Replacement says what to do instead, as an imperative clause.
	Replacement string
}

// deprecations lists every key removed upstream since November 2025, from
// the history of the allocator's structured config (see docs/upstream.md).
var deprecations = []Deprecation{
	{"dns.app_name", "v0.1.0", "b1c97c5a", "2025-12-08", "set dns.domain to the whole host name"},
	{"dns.pattern", "v0.1.0", "b1c97c5a", "2025-12-08", "set dns.domain to the whole host name"},
	{"dns.custom_subdomain", "v0.1.0", "b1c97c5a", "2025-12-08", "set dns.domain to the whole host name"},
	{"dns.create_zone", "v0.1.0", "b1c97c5a", "2025-12-08", "create the zone outside the allocator and set dns.zone_id"},
	{"ssl.staging", "v0.1.0", "b1c97c5a", "2025-12-08", `set ssl.provider to "none" for plain HTTP`},
	{"eip.tag_name", "v0.1.2", "65591ab8", "2026-03-26", "remove it: the EIP tag derives from deployment_name and environment"},
	{"db.message_channel", "v0.2.0", "d6029986", "2026-05-14", "remove it: the channel is fixed"},
	{"machine.extension", "v0.2.0", "d6029986", "2026-05-14", "remove it: nothing reads it"},
	{"monitoring.email", "v0.2.0", "413839cb", "2026-05-14", "remove it: today's monitoring has no alert e-mail"},
	{"monitoring.thresholds", "v0.2.0", "413839cb", "2026-05-14", "remove it: today's monitoring has no thresholds"},
	{"monitoring.budget", "v0.2.0", "413839cb", "2026-05-14", "remove it: today's monitoring has no budget"},
	{"monitoring.cloudtrail", "v0.2.0", "413839cb", "2026-05-14", "remove it: today's monitoring has no CloudTrail settings"},
	{"db.dbname", "v0.2.1", "860084ca", "2026-08-17", "remove it: the database identity is fixed; only db.password is configurable"},
	{"db.user", "v0.2.1", "860084ca", "2026-08-17", "remove it: the database identity is fixed; only db.password is configurable"},
	{"db.host", "v0.2.1", "860084ca", "2026-08-17", "remove it: the database identity is fixed; only db.password is configurable"},
	{"db.port", "v0.2.1", "860084ca", "2026-08-17", "remove it: the database identity is fixed; only db.password is configurable"},
	{"db.table_name", "v0.2.1", "860084ca", "2026-08-17", "remove it: the database identity is fixed; only db.password is configurable"},
}

// Deprecations returns every removed key this package still loads, in the
// order of their removal. The slice is a copy.
func Deprecations() []Deprecation { return append([]Deprecation(nil), deprecations...) }

func deprecationOf(path string) (Deprecation, bool) {
	for _, d := range deprecations {
		if d.Path == path {
			return d, true
		}
	}
	return Deprecation{}, false
}

// Warning is a deprecated key found in a config file: the file still
// loads, and the key keeps its old meaning, but the upstream allocator of
// Deprecation.Release on refuses the file.
type Warning struct {
	File string // as given to LoadConfig, or ""
	Line int    // 1-based line of the key
	Deprecation
}

// String reads "config.yaml:12: dns.pattern is deprecated: removed in
// allocator v0.1.0 (b1c97c5a, 2025-12-08), which refuses a file that
// sets it; set dns.domain to the whole host name", or "line 12: ..."
// without a file name, as errors do.
func (w Warning) String() string {
	var b strings.Builder
	writePosition(&b, w.File, w.Line)
	fmt.Fprintf(&b, "%s is deprecated: removed in allocator %s (%s, %s), which refuses a file that sets it; %s",
		w.Path, w.Release, w.Commit, w.Date, w.Replacement)
	return b.String()
}
