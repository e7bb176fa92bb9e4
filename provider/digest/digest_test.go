package digest

import (
	"bytes"
	"strings"
	"testing"
)

func TestKeyed(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	a, err := New(secret, "client-secret")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(secret, "device-code")
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(a.Sum([]byte("x")), []byte("x")) {
		t.Fatal("a digest does not match its own input")
	}
	if a.Equal(a.Sum([]byte("x")), []byte("y")) {
		t.Fatal("a digest matches another input")
	}
	if bytes.Equal(a.Sum([]byte("x")), b.Sum([]byte("x"))) {
		t.Fatal("two purposes give the same digest: a digest from one table would unlock another")
	}
	other, _ := New([]byte(strings.Repeat("t", 32)), "client-secret")
	if other.String("x") == a.String("x") {
		t.Fatal("another system secret gives the same digest")
	}
	if strings.Contains(a.String("secret-value"), "secret-value") {
		t.Fatal("the digest contains its input")
	}
	if _, err := New([]byte("short"), "x"); err == nil {
		t.Fatal("a system secret under 32 bytes was accepted")
	}
}
