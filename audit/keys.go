package audit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The indexes that make newest-first pages cheap name each entry by an
// inverted, zero-padded number (10^width - 1 - n), so that S3, which lists
// keys in ascending order, lists the newest entry first, and a page is one
// ListObjectsV2 call with a small MaxKeys starting after the previous
// page's last key. The leading digits are repeated as directories of at
// most 100 entries each (the shards): MinIO, like DirStore, reads a whole
// directory to list part of it, so a flat directory of 10,000 entries made
// every page cost about five times as much as one of 10. S3 itself does not
// care; the shards cost it nothing.

// Widths of the inverted numbers and the sizes of their shard directories.
const (
	// A history index entry inverts Started in Unix milliseconds: 14
	// digits last until the year 5138. The shards are of 10^10 ms (about
	// 116 days), then 10^8 ms (28 hours), 10^6 ms (17 minutes) and 10^4
	// ms, so that a directory holds at most 100 entries, except the last,
	// which holds the attempts begun within the same 10 seconds.
	historyWidth = 14
	// An operation's id, at most 12 digits as in the first layout's keys.
	// Below a million ids, the first shard is one directory; each of the
	// others holds at most 100 entries.
	opWidth = 12
)

var (
	historyShards = []int{4, 2, 2, 2}
	opShards      = []int{6, 2, 2}
)

// inverted returns the width-digit decimal of 10^width-1-n, n clamped to
// [0, 10^width-1].
func inverted(n int64, width int) string {
	top := int64(math.Pow10(width)) - 1
	return fmt.Sprintf("%0*d", width, top-min(max(n, 0), top))
}

// sharded returns digits' leading groups (of the sizes in shards) as
// directories: "9999/99/" for "999999..." and shards 4, 2.
func sharded(digits string, shards []int) string {
	var b strings.Builder
	i := 0
	for _, n := range shards {
		b.WriteString(digits[i : i+n])
		b.WriteByte('/')
		i += n
	}
	return b.String()
}

// allDigits reports whether s is width decimal digits.
func allDigits(s string, width int) bool {
	if len(s) != width {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// opLeaf is the name of operation id in the operation indexes,
// "<inverted id>-<id>": it sorts newest first and still shows the id.
func opLeaf(id int64) string {
	return inverted(id, opWidth) + "-" + strconv.FormatInt(id, 10)
}

// opPath is the sharded path of operation id under an index root.
func opPath(id int64) string {
	leaf := opLeaf(id)
	return sharded(leaf, opShards) + leaf
}

// opBefore is the StartAfter key that skips the operations of id before
// and newer under root: every key of before sorts under it, since '~' is
// after the '-' that follows the inverted id.
func opBefore(root string, before int64) string {
	inv := inverted(before, opWidth)
	return root + sharded(inv, opShards) + inv + "~"
}

// parseOpKey returns the id of an operation index key under root, whose
// last segment is opLeaf(id) followed by suffix.
func parseOpKey(key, suffix string) (int64, bool) {
	leaf, ok := strings.CutSuffix(key[strings.LastIndex(key, "/")+1:], suffix)
	if !ok {
		return 0, false
	}
	inv, idText, ok := strings.Cut(leaf, "-")
	if !ok || !allDigits(inv, opWidth) {
		return 0, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 1 || opLeaf(id) != leaf {
		return 0, false
	}
	return id, true
}
