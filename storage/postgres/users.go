package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/qrid/qrid/storage"
)

const userColumns = `id, username, password_hash, name, email, created_at`

func scanUser(row pgx.Row) (storage.User, error) {
	var u storage.User
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Name, &u.Email, &u.CreatedAt); err != nil {
		return storage.User{}, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// CreateUser stores u; ErrConflict if the ID or the username is taken.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		u.ID, u.Username, u.PasswordHash, u.Name, u.Email, u.CreatedAt.UTC())
	return translate(err)
}

// GetUser returns the user; ErrNotFound if there is none.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	u, err := scanUser(s.q(ctx).QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	return u, translate(err)
}

// GetUserByUsername returns the user with exactly this username.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (storage.User, error) {
	u, err := scanUser(s.q(ctx).QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username))
	return u, translate(err)
}

// ListUsers returns every user ordered by CreatedAt, then ID.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, translate(err)
	}
	us, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.User, error) { return scanUser(r) })
	return us, translate(err)
}

// DeleteUser removes the user and, in the same statement, the user's token
// sessions; consents and browser sessions go by foreign key. ErrNotFound if there
// is no such user.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	const sql = `
WITH u AS (DELETE FROM users WHERE id = $1 RETURNING id),
     t AS (DELETE FROM token_sessions WHERE subject IN (SELECT id FROM u))
SELECT count(*) FROM u`
	var n int64
	if err := s.q(ctx).QueryRow(ctx, sql, id).Scan(&n); err != nil {
		return translate(err)
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}
