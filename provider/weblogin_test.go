package provider_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/qrid/qrid/storage"
	"github.com/qrid/qrid/storage/memory"
)

func memoryStore() storage.Storage { return memory.New() }

var (
	qrIDAttr      = regexp.MustCompile(`data-qr-id="([^"]+)"`)
	matchCodeSpan = regexp.MustCompile(`<strong id="qr-match-code">(\d*)</strong>`)
)

// loginQR returns the qr_id and match code shown on a login page.
func loginQR(t *testing.T, page string) (string, string) {
	t.Helper()
	m := qrIDAttr.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the login page shows no QR:\n%s", page)
	}
	code := ""
	if mm := matchCodeSpan.FindStringSubmatch(page); mm != nil {
		code = mm[1]
	}
	return m[1], code
}

// events reads a login page's event stream until a final status or the deadline.
func (b *browser) events(issuer, qrID string, until string) []string {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, issuer+"/login/qr/"+qrID+"/events", nil)
	client := *b.http
	client.Timeout = 15 * time.Second
	resp, err := client.Do(req)
	if err != nil {
		b.t.Fatalf("events: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b.t.Fatalf("events answered %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var seen []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var st struct {
				Status string `json:"status"`
			}
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				b.t.Fatalf("event data %q: %v", data, err)
			}
			seen = append(seen, st.Status)
			if st.Status == until {
				return seen
			}
		}
	}
	return seen
}

func TestWebQRLogin(t *testing.T) {
	backends(t, func(t *testing.T, newStore func(*testing.T) storage.Storage) {
		q := newQREnv(t, newStore(t))
		phone := q.newPhone(t, "alice", testPassword, "alice-phone")
		b := q.newBrowser()
		conf := q.oauth2Config(q.web)
		verifier := oauth2.GenerateVerifier()
		resp, page := b.get(conf.AuthCodeURL("state-webqr-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-webqr-1")))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login page: %d", resp.StatusCode)
		}
		qrID, match := loginQR(t, page)
		if match == "" {
			t.Fatal("a third-party client's login page shows no number to match")
		}

		// Another browser learns nothing about this sign-in and cannot complete it.
		intruder := q.newBrowser().on(t)
		if r, _ := intruder.get(q.issuer + "/login/qr/" + qrID + "/events"); r.StatusCode != http.StatusNotFound {
			t.Fatalf("another browser's events request = %d, want 404", r.StatusCode)
		}
		if r, _ := intruder.get(q.issuer + "/login/qr/" + qrID + "/status"); r.StatusCode != http.StatusNotFound {
			t.Fatalf("another browser's status request = %d, want 404", r.StatusCode)
		}

		got := make(chan []string, 1)
		go func() { got <- b.events(q.issuer, qrID, "approved") }()
		waitWatchers(t, q)
		sc := phone.scan(t, q.issuer+"/q/"+qrID)
		if sc.Status != http.StatusOK || sc.Client.Name != "Web Shop" || !slices.Contains(sc.Scopes, "email") || sc.Requester.IP == "" {
			t.Fatalf("the phone was shown %+v", sc)
		}
		if c := phone.confirm(t, sc.ConfirmToken, true, match); c.Decision != "approved" {
			t.Fatalf("confirm = %+v", c)
		}
		var seen []string
		select {
		case seen = <-got:
		case <-time.After(20 * time.Second):
			t.Fatal("the event stream did not report the approval")
		}
		if seen[len(seen)-1] != "approved" || !slices.Contains(seen, "pending") {
			t.Fatalf("events = %v, want pending … approved", seen)
		}

		form := hiddenFields(t, page)
		form.Set("qr_id", qrID)
		if r, _ := intruder.post(q.issuer+"/login/qr/complete", form); r.StatusCode == http.StatusSeeOther {
			t.Fatal("another browser completed the sign-in")
		}
		resp, _ = b.post(q.issuer+"/login/qr/complete", form)
		cb := callback(t, resp)
		if cb.Get("code") == "" || cb.Get("state") != "state-webqr-1" {
			t.Fatalf("callback = %v (the phone's approval is the consent: no consent page)", cb)
		}
		tok, err := conf.Exchange(q.ctx(), cb.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := q.verifier(q.web.ClientID).Verify(q.ctx(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			AMR []string `json:"amr"`
		}
		_ = idt.Claims(&c)
		if idt.Subject != q.user.ID || !slices.Contains(c.AMR, "qr") {
			t.Fatalf("sub=%s amr=%v", idt.Subject, c.AMR)
		}
		// Completing twice does not sign anyone in again.
		if r, _ := b.post(q.issuer+"/login/qr/complete", form); r.StatusCode == http.StatusSeeOther {
			t.Fatal("a consumed QR session completed a second time")
		}
		// SSO: the browser is signed in now.
		if _, cbq := q.codeFlowSSO(b, q.trusted); cbq.Get("code") == "" {
			t.Fatal("no SSO after the QR sign-in")
		}
	})
}

func TestWebQRStatusAndRenew(t *testing.T) {
	q := newQREnv(t, memoryStore())
	phone := q.newPhone(t, "alice", testPassword, "alice-phone")
	b := q.newBrowser()
	conf := q.oauth2Config(q.trusted)
	_, page := b.get(conf.AuthCodeURL("state-webqr-2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	qrID, match := loginQR(t, page)
	if match != "" {
		t.Fatal("a first-party client's login page asks for a number")
	}
	status := func(since string, wait int) string {
		t.Helper()
		r, body := b.get(q.issuer + "/login/qr/" + qrID + "/status?" + url.Values{"since": {since}, "wait": {itoa(wait)}}.Encode())
		if r.StatusCode != http.StatusOK {
			t.Fatalf("status: %d %s", r.StatusCode, body)
		}
		var st struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal([]byte(body), &st)
		return st.Status + "/" + st.Reason
	}
	if s := status("", 0); s != "pending/" {
		t.Fatalf("status = %s", s)
	}
	got := make(chan string, 1)
	go func() { got <- status("pending", 25) }()
	waitWatchers(t, q)
	sc := phone.scan(t, qrID)
	select {
	case s := <-got:
		if s != "scanned/" {
			t.Fatalf("long-poll answered %s, want scanned", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the status long-poll did not answer the scan")
	}
	phone.confirm(t, sc.ConfirmToken, false, "")
	if s := status("scanned", 0); s != "denied/denied" {
		t.Fatalf("status after refusal = %s", s)
	}

	// The page asks for a fresh code.
	form := hiddenFields(t, page)
	body := url.Values{"csrf": {form.Get("csrf")}, "authz": {form.Get("authz")}}
	r, raw := b.post(q.issuer+"/login/qr/renew", body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("renew: %d %s", r.StatusCode, raw)
	}
	var v struct {
		ID       string `json:"qr_id"`
		ImageURI string `json:"image_uri"`
	}
	if err := json.Unmarshal([]byte(raw), &v); err != nil || v.ID == "" || v.ID == qrID || !strings.HasSuffix(v.ImageURI, ".svg") {
		t.Fatalf("renew answered %s", raw)
	}
	if r, _ := b.get(q.issuer + v.ImageURI); r.StatusCode != http.StatusOK {
		t.Fatalf("the new QR image: %d", r.StatusCode)
	}
	// Without the CSRF token there is no new code.
	if r, _ := b.post(q.issuer+"/login/qr/renew", url.Values{"authz": {form.Get("authz")}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("renew without CSRF = %d", r.StatusCode)
	}
}

// waitWatchers waits until a login page's event stream or status long-poll is open.
func waitWatchers(t *testing.T, q *qrEnv) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.p.Watchers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the login page's status request never reached the server")
		}
		time.Sleep(time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
