package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/qrid/qrid/storage"
)

const clientColumns = `id, secret_digest, name, redirect_uris, post_logout_redirect_uris,
	grant_types, response_types, scopes, token_endpoint_auth_method, logo_uri, client_uri,
	id_token_signed_response_alg, first_party, created_at, updated_at`

func scanClient(row pgx.Row) (storage.Client, error) {
	var c storage.Client
	err := row.Scan(&c.ID, &c.SecretDigest, &c.Name, &c.RedirectURIs, &c.PostLogoutRedirectURIs,
		&c.GrantTypes, &c.ResponseTypes, &c.Scopes, &c.TokenEndpointAuthMethod, &c.LogoURI,
		&c.ClientURI, &c.IDTokenSignedResponseAlg, &c.FirstParty, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return storage.Client{}, err
	}
	c.SecretDigest = fromBytes(c.SecretDigest)
	c.RedirectURIs = fromList(c.RedirectURIs)
	c.PostLogoutRedirectURIs = fromList(c.PostLogoutRedirectURIs)
	c.GrantTypes = fromList(c.GrantTypes)
	c.ResponseTypes = fromList(c.ResponseTypes)
	c.Scopes = fromList(c.Scopes)
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, nil
}

// CreateClient stores c; ErrConflict if the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		c.ID, bytes(c.SecretDigest), c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
		list(c.GrantTypes), list(c.ResponseTypes), list(c.Scopes), c.TokenEndpointAuthMethod,
		c.LogoURI, c.ClientURI, c.IDTokenSignedResponseAlg, c.FirstParty,
		c.CreatedAt.UTC(), c.UpdatedAt.UTC())
	return translate(err)
}

// GetClient returns the client; ErrNotFound if there is none.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := scanClient(s.q(ctx).QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
	return c, translate(err)
}

// ListClients returns every client ordered by CreatedAt, then ID.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY created_at, id`)
	if err != nil {
		return nil, translate(err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Client, error) { return scanClient(r) })
	return cs, translate(err)
}

// UpdateClient locks the client row, calls update and stores its result in one
// transaction (a savepoint of the caller's transaction if ctx carries one).
func (s *Store) UpdateClient(ctx context.Context, id string, update func(old storage.Client) (storage.Client, error)) (storage.Client, error) {
	var updated storage.Client
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		old, err := scanClient(tx.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return translate(err)
		}
		c, err := update(old)
		if err != nil {
			return err
		}
		updated, err = scanClient(tx.QueryRow(ctx, `UPDATE clients SET
				secret_digest = $2, name = $3, redirect_uris = $4, post_logout_redirect_uris = $5,
				grant_types = $6, response_types = $7, scopes = $8, token_endpoint_auth_method = $9,
				logo_uri = $10, client_uri = $11, id_token_signed_response_alg = $12,
				first_party = $13, updated_at = $14
			WHERE id = $1
			RETURNING `+clientColumns,
			id, bytes(c.SecretDigest), c.Name, list(c.RedirectURIs), list(c.PostLogoutRedirectURIs),
			list(c.GrantTypes), list(c.ResponseTypes), list(c.Scopes), c.TokenEndpointAuthMethod,
			c.LogoURI, c.ClientURI, c.IDTokenSignedResponseAlg, c.FirstParty, c.UpdatedAt.UTC()))
		return translate(err)
	})
	if err != nil {
		return storage.Client{}, err
	}
	return updated, nil
}

// DeleteClient removes the client; its token sessions and consents go with it by
// foreign key. ErrNotFound if there is no such client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return expectOne(s.q(ctx).Exec(ctx, `DELETE FROM clients WHERE id = $1`, id))
}
