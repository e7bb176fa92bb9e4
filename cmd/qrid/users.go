package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

const usersPath = "/admin/v1/users"

func (a *app) newUsersCmd() *cobra.Command {
	var conn adminFlags
	cmd := groupCmd("users", "Create and manage user accounts (admin API)",
		a.newUsersCreateCmd(&conn),
		a.adminCall(&conn, "list", "List the users", http.MethodGet, func([]string) string { return usersPath }),
		a.adminCall(&conn, "get USER_ID", "Show one user", http.MethodGet, func(args []string) string { return idPath(usersPath, args[0]) }),
		a.adminCall(&conn, "delete USER_ID", "Delete a user", http.MethodDelete, func(args []string) string { return idPath(usersPath, args[0]) }),
	)
	conn.add(cmd)
	return cmd
}

func (a *app) newUsersCreateCmd(conn *adminFlags) *cobra.Command {
	var user struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Name     string `json:"name,omitempty"`
		Email    string `json:"email,omitempty"`
	}
	cmd := &cobra.Command{
		Use:   "create --username NAME",
		Short: "Create a user; the password is read from the terminal or standard input",
		Long: "Create a user. The password is never a flag: on a terminal it is asked twice\n" +
			"without echo; otherwise the first line of standard input is the password.",
		Example: "  qrid users create --username alice --name \"Alice Example\" --email alice@example.com\n" +
			"  printf '%s\\n' \"$PASSWORD\" | qrid users create --username alice",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(user.Username) == "" {
				return usageError{errors.New("--username is required")}
			}
			c, err := conn.client() // before asking for a password that could not be sent
			if err != nil {
				return err
			}
			if user.Password, err = a.readPassword(); err != nil {
				return err
			}
			body, err := json.Marshal(user)
			if err != nil {
				return err
			}
			data, err := c.do(cmd.Context(), http.MethodPost, usersPath, body)
			if err != nil {
				return err
			}
			return printJSON(a.stdout, data)
		},
	}
	f := cmd.Flags()
	f.StringVar(&user.Username, "username", "", "username (required)")
	f.StringVar(&user.Name, "name", "", "full name")
	f.StringVar(&user.Email, "email", "", "email address")
	noEnv(f, "username", "name", "email")
	return cmd
}

// readPassword asks for the password twice without echo when standard input is a
// terminal; otherwise it reads the first line of standard input.
func (a *app) readPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return a.promptPassword(int(f.Fd()))
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if password == "" {
		return "", errors.New("no password: write it as the first line of standard input")
	}
	return password, nil
}

func (a *app) promptPassword(fd int) (string, error) {
	read := func(prompt string) (string, error) {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(b), nil
	}
	first, err := read("Password: ")
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", errors.New("the password must not be empty")
	}
	second, err := read("Password again: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the two passwords differ")
	}
	return first, nil
}
