package miniotest_test

import (
	"os"
	"testing"

	"github.com/lablink-go/lablink/internal/miniotest"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
