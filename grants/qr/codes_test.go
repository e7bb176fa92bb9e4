package qr

import (
	"slices"
	"strings"
	"testing"
)

func TestUserCode(t *testing.T) {
	for range 100 {
		code := newUserCode()
		if len(code) != 9 || code[4] != '-' {
			t.Fatalf("user code %q is not XXXX-XXXX", code)
		}
		norm := NormalizeUserCode(code)
		if len(norm) != userCodeLen || strings.Trim(norm, userCodeAlphabet) != "" {
			t.Fatalf("user code %q normalises to %q", code, norm)
		}
	}
	cases := map[string]string{
		"BCDF-GHJK":             "BCDFGHJK",
		"bcdf ghjk":             "BCDFGHJK",
		"bcdfghjk":              "BCDFGHJK",
		"BCDF-GHJ":              "",
		"BCDF-GHJKL":            "",
		"ABCD-EFGH":             "", // vowels are not in the alphabet
		"BCDF-GHJ1":             "",
		"BCDF\x00GHJK":          "",
		"":                      "",
		strings.Repeat("B", 64): "",
	}
	for in, want := range cases {
		if got := NormalizeUserCode(in); got != want {
			t.Errorf("NormalizeUserCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	for range 200 {
		code, choices := newMatch()
		if len(code) != 2 || code < "10" || code > "99" {
			t.Fatalf("match code %q", code)
		}
		if len(choices) != 3 || !slices.Contains(choices, code) {
			t.Fatalf("choices %v do not offer %s", choices, code)
		}
		sorted := slices.Clone(choices)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != 3 {
			t.Fatalf("choices %v repeat a number", choices)
		}
	}
}

func TestParseQRContent(t *testing.T) {
	id := newQRID()
	cases := map[string]string{
		"https://id.example/q/" + id:            id,
		id:                                      id,
		"  " + id + "\n":                        id,
		"https://evil.example/q/" + id:          "",
		"https://id.example/q/" + id + "/extra": "",
		"https://id.example/q/short":            "",
		"https://id.example/device":             "",
		"":                                      "",
		strings.Repeat("!", 22):                 "",
	}
	for in, want := range cases {
		if got := ParseQRContent("https://id.example", in); got != want {
			t.Errorf("ParseQRContent(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseQRContent(f *testing.F) {
	f.Add("https://id.example/q/" + newQRID())
	f.Add(newQRID())
	f.Add("qrid://q/abc")
	f.Fuzz(func(t *testing.T, s string) {
		id := ParseQRContent("https://id.example", s)
		if id != "" && (len(id) != qrIDLen || strings.ContainsAny(id, "/?#")) {
			t.Fatalf("ParseQRContent(%q) = %q", s, id)
		}
	})
}

func FuzzNormalizeUserCode(f *testing.F) {
	f.Add("BCDF-GHJK")
	f.Add("bcdf ghjk")
	f.Fuzz(func(t *testing.T, s string) {
		if n := NormalizeUserCode(s); n != "" && (len(n) != userCodeLen || strings.Trim(n, userCodeAlphabet) != "") {
			t.Fatalf("NormalizeUserCode(%q) = %q", s, n)
		}
	})
}
