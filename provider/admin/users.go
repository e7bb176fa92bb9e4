package admin

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/qrid/qrid/provider/audit"
	"github.com/qrid/qrid/provider/password"
	"github.com/qrid/qrid/storage"
)

// NewUser is what creating a user takes.
type NewUser struct {
	// Username is trimmed and lower-cased, then must be 1 to 64 characters of
	// a-z, 0-9, '.', '_', '@', '+' and '-'.
	Username string `json:"username"`
	// Password must be 8 to 1024 bytes.
	Password string `json:"password"`
	Name     string `json:"name,omitempty"`
	// Email, if given, must be a bare address ("a@example.com", not "A <a@...>").
	Email string `json:"email,omitempty"`
}

// UserInfo is a user as the admin API shows it; never the password hash.
type UserInfo struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Name      string    `json:"name,omitempty"`
	Email     string    `json:"email,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

const (
	maxUsernameLen = 64
	minPasswordLen = 8
	maxEmailLen    = 254
)

func userWhat(id string) string { return fmt.Sprintf("User %q", id) }

// NormalizeUsername trims and lower-cases a username, as CreateUser stores it. Sign-in
// code looks users up with the same normalisation.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validUsernameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._@+-", r)
}

// CreateUser creates a user whose password is hashed with argon2id.
func (s *Service) CreateUser(ctx context.Context, u NewUser) (UserInfo, error) {
	username := NormalizeUsername(u.Username)
	switch {
	case username == "":
		return UserInfo{}, invalidRequest("username is required.")
	case len(username) > maxUsernameLen:
		return UserInfo{}, invalidRequest("username must be at most %d characters.", maxUsernameLen)
	case strings.ContainsFunc(username, func(r rune) bool { return !validUsernameChar(r) }):
		return UserInfo{}, invalidRequest("username may only contain a-z, 0-9, '.', '_', '@', '+' and '-'.")
	}
	switch {
	case u.Password == "":
		return UserInfo{}, invalidRequest("password is required.")
	case len(u.Password) < minPasswordLen:
		return UserInfo{}, invalidRequest("password must be at least %d bytes.", minPasswordLen)
	case len(u.Password) > password.MaxLen:
		return UserInfo{}, invalidRequest("password must be at most %d bytes.", password.MaxLen)
	}
	name, e := checkName("name", u.Name, false, invalidRequest)
	if e != nil {
		return UserInfo{}, e
	}
	email := strings.TrimSpace(u.Email)
	if email != "" {
		a, err := mail.ParseAddress(email)
		if err != nil || a.Name != "" || a.Address != email || len(email) > maxEmailLen {
			return UserInfo{}, invalidRequest("email %q is not a valid email address; give a bare address such as alice@example.com.", email)
		}
	}

	// Refuse a taken username before spending the hash; CreateUser refuses it again
	// atomically.
	switch _, err := s.Store.GetUserByUsername(ctx, username); {
	case err == nil:
		return UserInfo{}, storeError(storage.ErrConflict, fmt.Sprintf("Username %q", username), "create")
	case !errors.Is(err, storage.ErrNotFound):
		return UserInfo{}, storeError(err, fmt.Sprintf("user %q", username), "look up")
	}
	hash, err := password.Hash(u.Password)
	if err != nil {
		return UserInfo{}, fmt.Errorf("admin: hash password: %w", err)
	}
	user := storage.User{
		ID:           randomHex(16),
		Username:     username,
		PasswordHash: hash,
		Name:         name,
		Email:        email,
		CreatedAt:    s.now(),
	}
	if err := s.Store.CreateUser(ctx, user); err != nil {
		return UserInfo{}, storeError(err, fmt.Sprintf("Username %q", username), "create")
	}
	s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserCreated, AccountID: user.ID, Detail: "username=" + username})
	return userInfo(user), nil
}

// GetUser returns user id.
func (s *Service) GetUser(ctx context.Context, id string) (UserInfo, error) {
	u, err := s.Store.GetUser(ctx, id)
	if err != nil {
		return UserInfo{}, storeError(err, userWhat(id), "get")
	}
	return userInfo(u), nil
}

// ListUsers returns every user in creation order.
func (s *Service) ListUsers(ctx context.Context) ([]UserInfo, error) {
	us, err := s.Store.ListUsers(ctx)
	if err != nil {
		return nil, storeError(err, "users", "list")
	}
	out := make([]UserInfo, 0, len(us))
	for _, u := range us {
		out = append(out, userInfo(u))
	}
	return out, nil
}

// DeleteUser removes user id with their consents and sessions.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	if err := s.Store.DeleteUser(ctx, id); err != nil {
		return storeError(err, userWhat(id), "delete")
	}
	s.Audit.Record(ctx, storage.AuditEvent{Type: audit.UserDeleted, AccountID: id})
	return nil
}

func userInfo(u storage.User) UserInfo {
	return UserInfo{ID: u.ID, Username: u.Username, Name: u.Name, Email: u.Email, CreatedAt: u.CreatedAt.UTC()}
}
