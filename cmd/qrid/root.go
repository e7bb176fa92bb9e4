package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// app holds what the commands read and write, so that tests run them in-process.
type app struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(key string) (string, bool)
}

// run executes the command line args and returns the process exit status.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.newRootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(a.stderr, "qrid: %v\n", err)
	var uerr usageError
	if errors.As(err, &uerr) && cmd != nil {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return 1
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "qrid",
		Short: "qrid is an OpenID Connect provider that signs people in with a QR code",
		Long: "qrid is an OpenID Connect provider that signs people in with a QR code scanned\n" +
			"by its mobile app. Every configuration flag can also be set in the environment\n" +
			"as QRID_<FLAG> (for example --admin-addr as QRID_ADMIN_ADDR); flags win.",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.applyEnv(cmd.Flags())
		},
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(
		a.newServeCmd(),
		a.newMigrateCmd(),
		a.newClientsCmd(),
		a.newUsersCmd(),
		a.newKeysCmd(),
		a.newAuditCmd(),
		a.newHealthcheckCmd(),
		a.newLoginCmd(),
		a.newPhoneCmd(),
		a.newBenchCmd(),
	)
	return root
}

// usageError is a mistake on the command line; run adds a pointer to --help.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// noEnvAnnotation marks a flag that applyEnv must not read from the environment.
const noEnvAnnotation = "qrid_no_env"

// noEnv marks the named flags of fs as not read from the environment.
func noEnv(fs *pflag.FlagSet, names ...string) {
	for _, name := range names {
		if err := fs.SetAnnotation(name, noEnvAnnotation, []string{"true"}); err != nil {
			panic(err) // a programming error: the flag is not defined
		}
	}
}

// envName is the environment variable of a flag: --admin-addr is QRID_ADMIN_ADDR.
func envName(flag string) string {
	return "QRID_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its QRID_<FLAG>
// variable, when that variable is set. Flags given on the command line win.
func (a *app) applyEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Annotations[noEnvAnnotation] != nil {
			return
		}
		v, ok := a.lookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("invalid %s=%q (for --%s): %v", envName(f.Name), v, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// noArgs accepts no positional argument; a word there is an unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return nil
}

// exactArgs accepts exactly the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageError{fmt.Errorf("missing %s", strings.Join(names[len(args):], ", "))}
		case len(args) > len(names):
			return usageError{fmt.Errorf("unexpected argument %q", args[len(names)])}
		}
		return nil
	}
}

// groupCmd is a command that only holds subcommands (qrid clients, qrid keys, ...).
func groupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() {
					names = append(names, c.Name())
				}
			}
			return usageError{fmt.Errorf("%s needs a subcommand: %s", cmd.CommandPath(), strings.Join(names, ", "))}
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}
