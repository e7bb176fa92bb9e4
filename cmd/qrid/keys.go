package main

import (
	"encoding/json"
	"net/http"

	"github.com/spf13/cobra"
)

const keysPath = "/admin/v1/keys"

func (a *app) newKeysCmd() *cobra.Command {
	var (
		conn adminFlags
		alg  string
	)
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key active; the old one stays in the JWKS until its tokens expire",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var body []byte
			if alg != "" {
				var err error
				if body, err = json.Marshal(map[string]string{"alg": alg}); err != nil {
					return err
				}
			}
			return a.call(cmd, &conn, http.MethodPost, keysPath+"/rotate", body)
		},
	}
	rotate.Flags().StringVar(&alg, "alg", "", "algorithm of the new key: ES256 or RS256 (default: the server's choice)")
	noEnv(rotate.Flags(), "alg")

	cmd := groupCmd("keys", "List and rotate signing keys (admin API)",
		&cobra.Command{
			Use:   "list",
			Short: "List the signing keys (public parts only)",
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return a.call(cmd, &conn, http.MethodGet, keysPath, nil)
			},
		},
		rotate,
	)
	conn.add(cmd)
	return cmd
}
