package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
	"github.com/qrid/qrid/storage/postgres"
)

// openStore returns the in-memory store without a database URL; otherwise it brings
// the PostgreSQL schema up to date (unless --no-migrate) and connects.
func openStore(ctx context.Context, cfg serveConfig, logger *slog.Logger) (storage.Storage, error) {
	if cfg.databaseURL == "" {
		logger.Info("using the in-memory store: everything is lost when qrid stops")
		return memory.New(), nil
	}
	if cfg.noMigrate {
		st, err := postgres.MigrationStatus(ctx, cfg.databaseURL)
		if err != nil {
			return nil, fmt.Errorf("reading the database schema version: %w", err)
		}
		if len(st.Pending) > 0 {
			logger.Warn("database schema is not up to date and --no-migrate is set; run qrid migrate up",
				"current", st.Current, "latest", st.Latest, "pending", strings.Join(st.Pending, ","))
		}
	} else {
		if err := postgres.Migrate(ctx, cfg.databaseURL); err != nil {
			return nil, fmt.Errorf("migrating the database: %w", err)
		}
	}
	s, err := postgres.Open(ctx, cfg.databaseURL)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	logger.Info("using the PostgreSQL store")
	return s, nil
}
