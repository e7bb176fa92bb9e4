package mobile

import "testing"

func TestSameNetwork(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"192.0.2.10", "192.0.2.200", true},
		{"192.0.2.10", "192.0.3.10", false},
		{"127.0.0.1", "127.0.0.1", true},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"::ffff:192.0.2.1", "192.0.2.99", true},
		{"192.0.2.1", "2001:db8::1", false},
		{"", "192.0.2.1", false},
		{"not-an-ip", "not-an-ip", false},
	}
	for _, c := range cases {
		if got := sameNetwork(c.a, c.b); got != c.want {
			t.Errorf("sameNetwork(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
