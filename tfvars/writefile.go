package tfvars

import (
	"fmt"

	"github.com/lablink-go/lablink/internal/atomicfile"
)

// WriteFile writes data to path atomically and with mode 0600, because a
// variable-definitions file often holds secrets.
//
// It creates a temporary file in the same directory (so the final rename
// cannot cross file systems), writes and fsyncs it, renames it over path and
// then fsyncs the directory so the rename itself survives a crash. If any
// step before the rename fails, the temporary file is removed and an existing
// file at path is left untouched. An error from the final directory sync is
// returned even though path already holds the new content.
//
// Concurrent WriteFile calls for the same path do not corrupt it: the last
// rename wins.
func WriteFile(path string, data []byte) error {
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
