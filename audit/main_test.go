package audit_test

import (
	"os"
	"testing"

	"github.com/lablink-go/lablink/internal/miniotest"
)

// The S3 tests share one MinIO per test binary; Run stops it at the end.
func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
