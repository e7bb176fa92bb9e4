package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qrid/qrid/storage/postgres"
)

func (a *app) newMigrateCmd() *cobra.Command {
	var databaseURL string
	requireURL := func() error {
		if databaseURL == "" {
			return usageError{errors.New("--database-url (or QRID_DATABASE_URL) is required: migrations apply to a PostgreSQL database")}
		}
		return nil
	}

	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireURL(); err != nil {
				return err
			}
			if err := postgres.Migrate(cmd.Context(), databaseURL); err != nil {
				return fmt.Errorf("migrating the database: %w", err)
			}
			st, err := postgres.MigrationStatus(cmd.Context(), databaseURL)
			if err != nil {
				return fmt.Errorf("reading the schema version: %w", err)
			}
			fmt.Fprintf(a.stdout, "schema is at version %d\n", st.Current)
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the schema version and the pending migrations",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireURL(); err != nil {
				return err
			}
			st, err := postgres.MigrationStatus(cmd.Context(), databaseURL)
			if err != nil {
				return fmt.Errorf("reading the schema version: %w", err)
			}
			fmt.Fprintf(a.stdout, "schema version %d of %d\n", st.Current, st.Latest)
			if len(st.Pending) == 0 {
				fmt.Fprintln(a.stdout, "up to date")
				return nil
			}
			fmt.Fprintln(a.stdout, "pending migrations:")
			for _, name := range st.Pending {
				fmt.Fprintf(a.stdout, "  %s\n", name)
			}
			return nil
		},
	}
	cmd := groupCmd("migrate", "Manage the PostgreSQL schema", up, status)
	cmd.PersistentFlags().StringVar(&databaseURL, "database-url", "", "PostgreSQL URL (required)")
	return cmd
}
