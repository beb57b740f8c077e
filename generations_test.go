package lablink_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// TestEveryGenerationLoads: a config of each upstream schema generation
// since November 2025 (testdata/generations, one per shape a release or
// main accepted, and lablink-template's) loads without error, and warns of
// exactly the removed keys it sets, each on its line.
func TestEveryGenerationLoads(t *testing.T) {
	// The deprecated paths each generation sets, from the schema history.
	dns := []string{"dns.app_name", "dns.pattern", "dns.custom_subdomain", "dns.create_zone", "ssl.staging"}
	oldMonitoring := []string{"monitoring.email", "monitoring.thresholds", "monitoring.budget", "monitoring.cloudtrail"}
	db := []string{"db.dbname", "db.user", "db.host", "db.port", "db.table_name"}
	v020 := []string{"db.message_channel", "machine.extension"}
	want := map[string][]string{
		"2025-11.yaml":            concat(db, v020, dns, []string{"eip.tag_name"}),
		"2025-12-monitoring.yaml": concat(db, v020, dns, []string{"eip.tag_name"}, oldMonitoring),
		"2025-12.yaml":            concat(db, v020, []string{"eip.tag_name"}, oldMonitoring),
		"2026-03.yaml":            concat(db, v020, oldMonitoring),
		"2026-05.yaml":            db,
		"2026-08-03.yaml":         db,
		"2026-08.yaml":            nil,
		"template-2025-11.yaml":   concat(db, v020, dns, []string{"eip.tag_name"}),
		"template-2026-08.yaml":   nil,
	}
	files, err := filepath.Glob("testdata/generations/*.yaml")
	require.NoError(t, err)
	require.Len(t, files, len(want))
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			wantPaths, ok := want[filepath.Base(path)]
			require.True(t, ok, "no expectation for %s", path)
			_, warns, err := lablink.LoadConfig(path)
			require.NoError(t, err)
			src, err := os.ReadFile(path)
			require.NoError(t, err)
			lines := strings.Split(string(src), "\n")
			var got []string
			for _, w := range warns {
				got = append(got, w.Path)
				require.Positive(t, w.Line)
				assert.Contains(t, lines[w.Line-1], lastKey(w.Path), "warning for %s points at line %d", w.Path, w.Line)
			}
			assert.ElementsMatch(t, wantPaths, got)
		})
	}
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TestRefusedAsUpstreamRefuses: every config today's upstream refuses for
// a cross-field rule (testdata/refused, first line "# refused: PATH: why")
// is refused here, with one error naming that path and the line of its
// key or section.
func TestRefusedAsUpstreamRefuses(t *testing.T) {
	files, err := filepath.Glob("testdata/refused/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := os.Open(path)
			require.NoError(t, err)
			first, _ := bufio.NewReader(f).ReadString('\n')
			f.Close()
			rest, ok := strings.CutPrefix(first, "# refused: ")
			require.True(t, ok, "first line %q", first)
			wantPath, _, _ := strings.Cut(rest, ":")
			_, _, err = lablink.LoadConfig(path)
			got := fieldErrors(t, err)
			require.Len(t, got, 1, "errors: %v", err)
			assert.Equal(t, wantPath, got[0].Path)
			assert.Equal(t, lablink.ErrInvalidValue, got[0].Is)
			assert.Positive(t, got[0].Line)
			assert.ErrorContains(t, err, path+":")
		})
	}
}
