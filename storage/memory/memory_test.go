package memory_test

import (
	"testing"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
	"github.com/qrid/qrid/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Storage { return memory.New() })
}
