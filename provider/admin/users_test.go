package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/qrid/qrid/provider/password"
	"github.com/qrid/qrid/storage"
)

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.call(http.MethodPost, "/admin/v1/users",
		`{"username":"  Alice.Smith+qr@Example.com ","password":"correct horse","name":" Alice Smith ","email":"alice@example.com"}`)
	wantStatus(t, r, http.StatusCreated)
	created := r.object(t)
	id, _ := created["id"].(string)
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Fatalf("id %q, want 16 random bytes in hex", id)
	}
	want := map[string]any{
		"id":         id,
		"username":   "alice.smith+qr@example.com",
		"name":       "Alice Smith",
		"email":      "alice@example.com",
		"created_at": "2030-01-02T03:04:05Z",
	}
	if !reflect.DeepEqual(created, want) {
		t.Errorf("created\n got %v\nwant %v", created, want)
	}
	if got := r.header.Get("Location"); got != "/admin/v1/users/"+id {
		t.Errorf("Location %q", got)
	}
	if strings.Contains(string(r.body), "argon2") || strings.Contains(string(r.body), "correct horse") {
		t.Errorf("answer leaks the password or its hash: %s", r.body)
	}

	stored, err := e.mem.GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$") {
		t.Errorf("stored hash %q is not argon2id", stored.PasswordHash)
	}
	if err := password.Verify(stored.PasswordHash, "correct horse"); err != nil {
		t.Errorf("the stored hash does not verify the password: %v", err)
	}

	r = e.call(http.MethodGet, "/admin/v1/users/"+id, "")
	wantStatus(t, r, http.StatusOK)
	if got := r.object(t); !reflect.DeepEqual(got, want) {
		t.Errorf("get\n got %v\nwant %v", got, want)
	}
	r = e.call(http.MethodGet, "/admin/v1/users", "")
	wantStatus(t, r, http.StatusOK)
	var list struct{ Users []map[string]any }
	r.decode(t, &list)
	if len(list.Users) != 1 || !reflect.DeepEqual(list.Users[0], want) {
		t.Errorf("list %v", list)
	}

	// The same username in another case is taken, and nothing is stored.
	before := e.snapshot()
	wantError(t, e.call(http.MethodPost, "/admin/v1/users", `{"username":"ALICE.SMITH+QR@EXAMPLE.COM","password":"another password"}`),
		http.StatusConflict, "conflict")
	if !reflect.DeepEqual(e.snapshot(), before) {
		t.Error("a duplicate username changed the store")
	}

	wantStatus(t, e.call(http.MethodDelete, "/admin/v1/users/"+id, ""), http.StatusNoContent)
	wantError(t, e.call(http.MethodGet, "/admin/v1/users/"+id, ""), http.StatusNotFound, "not_found")
	wantError(t, e.call(http.MethodDelete, "/admin/v1/users/"+id, ""), http.StatusNotFound, "not_found")
	r = e.call(http.MethodGet, "/admin/v1/users", "")
	if strings.TrimSpace(string(r.body)) != `{"users":[]}` {
		t.Errorf("empty list %s", r.body)
	}
}

func TestUserInfoOmitsEmptyNameAndEmail(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(userInfo(storage.User{ID: "u1", Username: "bob", PasswordHash: "$argon2id$x", CreatedAt: testNow}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"id":"u1","username":"bob","created_at":"2030-01-02T03:04:05Z"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestUserValidation(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, mention string }{
		{"fail/username missing", `{"password":"long enough"}`, "username"},
		{"fail/username blank", `{"username":"   ","password":"long enough"}`, "username"},
		{"fail/username too long", `{"username":"` + strings.Repeat("a", 65) + `","password":"long enough"}`, "64"},
		{"fail/username space inside", `{"username":"a b","password":"long enough"}`, "username"},
		{"fail/username slash", `{"username":"a/b","password":"long enough"}`, "username"},
		{"fail/username non-ASCII", `{"username":"zoë","password":"long enough"}`, "username"},
		{"fail/password missing", `{"username":"carol"}`, "password"},
		{"fail/password too short", `{"username":"carol","password":"1234567"}`, "8"},
		{"fail/password too long", `{"username":"carol","password":"` + strings.Repeat("p", 1025) + `"}`, "1024"},
		{"fail/name too long", `{"username":"carol","password":"long enough","name":"` + strings.Repeat("n", 201) + `"}`, "name"},
		{"fail/name control character", `{"username":"carol","password":"long enough","name":"a\nb"}`, "name"},
		{"fail/email not an address", `{"username":"carol","password":"long enough","email":"not-an-email"}`, "email"},
		{"fail/email with display name", `{"username":"carol","password":"long enough","email":"Carol <carol@example.com>"}`, "email"},
		{"fail/email in angle brackets", `{"username":"carol","password":"long enough","email":"<carol@example.com>"}`, "email"},
		{"fail/email two addresses", `{"username":"carol","password":"long enough","email":"a@example.com, b@example.com"}`, "email"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot()
			m := wantError(t, e.call(http.MethodPost, "/admin/v1/users", tt.body), http.StatusBadRequest, "invalid_request")
			if msg := m["message"].(string); !strings.Contains(msg, tt.mention) {
				t.Errorf("message %q does not mention %q", msg, tt.mention)
			}
			if !reflect.DeepEqual(e.snapshot(), before) {
				t.Error("a refused user changed the store")
			}
		})
	}
}
