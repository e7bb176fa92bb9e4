package provider_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowser drives qrid's pages in headless Chromium (DESIGN §1b, §8): a third-party
// website's "Log in with qrid" button, the login page's QR followed live, the phone's
// decision, renewal, the password fallback, and how the pages look on a desktop and a
// phone. Each flow has its own relying party and its own browser context; the flows
// share one qrid (memory store: these tests are about pages, not storage) except the
// one that moves the clock, and one Chromium. Elements are found by id, name or
// attribute, never by their (localised) text.
func TestBrowser(t *testing.T) {
	c := startChromium(t)
	// The flows share one qrid and alice's phone, each with a relying party (a client)
	// of its own, so consent given in one flow is not remembered in another.
	site := newQRIDSite(t)

	// The flows run at once, whatever -parallel says: most of their time is spent
	// waiting on the browser and the server.
	type namedFlow struct {
		name string
		run  func(t *testing.T)
	}
	var flows []namedFlow
	flow := func(name string, run func(t *testing.T)) { flows = append(flows, namedFlow{name, run}) }

	flow("qr sign-in", func(t *testing.T) {
		f := c.newFlow(t, site, desktopView)
		ph := f.phone
		id := f.openLogin()

		// The image is the session's SVG, and a camera reads the QR off the screen.
		src := eval[string](f.tab, `document.getElementById('qr-image').src`)
		if src != f.q.issuer+"/qr/"+id+".svg" {
			t.Fatalf("#qr-image src = %s, want the SVG of %s", src, id)
		}
		resp, body := f.q.newBrowser().on(t).get(src)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<svg") {
			t.Fatalf("GET %s = %d %s", src, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		content := f.readQR("qr-image")
		if content != f.q.issuer+"/q/"+id {
			t.Fatalf("the QR on the screen reads %q, want %s/q/%s", content, f.q.issuer, id)
		}

		// Number matching: the page shows the number the phone must pick.
		f.visible("qr-match")
		match := f.text("qr-match-code")
		sc := ph.scan(t, content)
		if sc.Status != http.StatusOK || sc.Client.Name != "Example Shop" || !slices.Contains(sc.MatchChoices, match) {
			t.Fatalf("the phone was shown %+v; the page shows %q", sc, match)
		}
		f.waitState("scanned")
		if a := ph.confirm(t, sc.ConfirmToken, true, match); a.Decision != "approved" {
			t.Fatalf("confirm = %+v", a)
		}

		claims := f.signedIn()
		if claims.Subject != f.q.user.ID || !slices.Contains(claims.AMR, "qr") {
			t.Fatalf("the RP shows sub=%s amr=%v, want sub=%s amr [qr]", claims.Subject, claims.AMR, f.q.user.ID)
		}
		if got := f.text("rp-subject"); got != f.q.user.ID {
			t.Fatalf("the RP says signed in as %q", got)
		}
	})

	flow("refusal and a new code", func(t *testing.T) {
		f := c.newFlow(t, site, desktopView)
		ph := f.phone
		id := f.openLogin()
		waiting := f.text("qr-status")

		sc := ph.scan(t, f.q.issuer+"/q/"+id)
		f.waitState("scanned")
		scanned := f.text("qr-status")
		if scanned == "" || scanned == waiting {
			t.Fatalf("the status line did not change on the scan: %q", scanned)
		}
		if a := ph.confirm(t, sc.ConfirmToken, false, ""); a.Decision != "denied" {
			t.Fatalf("refuse = %+v", a)
		}
		f.waitState("denied")
		f.visible("qr-renew")
		if refused := f.text("qr-status"); refused == "" || refused == scanned || refused == waiting {
			t.Fatalf("the status line does not report the refusal: %q", refused)
		}
		if !eval[bool](f.tab, `document.activeElement === document.getElementById('qr-renew')`) {
			t.Error("the new-code button does not have the focus after the refusal")
		}

		f.do("ask for a new code", chromedp.Click(chromedp.ID("qr-renew")))
		fresh := f.waitQR(id)
		f.do("the new-code button goes away", chromedp.WaitNotVisible(chromedp.ID("qr-renew")))
		if got := f.readQR("qr-image"); got != f.q.issuer+"/q/"+fresh {
			t.Fatalf("the new QR reads %q, want %s/q/%s", got, f.q.issuer, fresh)
		}
	})

	flow("expired code renews itself", func(t *testing.T) {
		// A qrid of its own: this flow moves the clock.
		f := c.newFlow(t, newQRIDSite(t), desktopView)
		ph := f.phone
		id := f.openLogin()
		// A marker on window survives only if the page is not reloaded; the observer
		// records every state the page goes through.
		eval[bool](f.tab, `(() => {
			window.qridTestMarker = "same document";
			window.qridTestStates = [];
			const s = document.getElementById("qr-login");
			new MutationObserver(records => {
				for (const r of records) { window.qridTestStates.push(r.oldValue); }
				window.qridTestStates.push(s.dataset.state);
			}).observe(s, { attributes: true, attributeFilter: ["data-state"], attributeOldValue: true });
			return true;
		})()`)

		f.q.clock.Advance(6 * time.Minute) // the QR lives 5 minutes
		// The event stream's expiry timer runs on the real clock: tell it the clock
		// jumped.
		f.q.p.RecheckQR()
		f.waitFor("the page replaces the expired code", fmt.Sprintf(freshQR, id))
		fresh := eval[string](f.tab, `document.getElementById("qr-login").dataset.qrId`)
		if m := eval[string](f.tab, `String(window.qridTestMarker)`); m != "same document" {
			t.Fatalf("the page was reloaded (marker %q)", m)
		}
		if states := eval[[]string](f.tab, `window.qridTestStates.map(String)`); !slices.Contains(states, "expired") {
			t.Fatalf("the page went through %v, never expired", states)
		}

		// The old code is dead; the new one is live.
		if sc := ph.scan(t, f.q.issuer+"/q/"+id); sc.Error != "expired" {
			t.Fatalf("scanning the expired code = %d %s", sc.Status, sc.Error)
		}
		if got := f.readQR("qr-image"); got != f.q.issuer+"/q/"+fresh {
			t.Fatalf("the renewed QR reads %q, want %s/q/%s", got, f.q.issuer, fresh)
		}
		// Scanned only: completing a sign-in with q.clock six minutes ahead of the
		// real clock fails in fosite's OpenID validator ("authentication time is in
		// the future"), which reads time.Now.
		if sc := ph.scan(t, f.q.issuer+"/q/"+fresh); sc.Status != http.StatusOK {
			t.Fatalf("scanning the renewed code = %d %s", sc.Status, sc.Error)
		}
		f.waitState("scanned")
	})

	flow("wrong number picked", func(t *testing.T) {
		f := c.newFlow(t, site, desktopView)
		ph := f.phone
		id := f.openLogin()
		match := f.text("qr-match-code")
		sc := ph.scan(t, f.q.issuer+"/q/"+id)
		f.waitState("scanned")
		scanned := f.text("qr-status")
		wrong := ""
		for _, n := range sc.MatchChoices {
			if n != match {
				wrong = n
				break
			}
		}
		if wrong == "" {
			t.Fatalf("the phone offers %v, the page shows %s", sc.MatchChoices, match)
		}
		if a := ph.confirm(t, sc.ConfirmToken, true, wrong); a.Error != "wrong_match" {
			t.Fatalf("confirm with the wrong number = %+v", a)
		}
		f.waitState("denied")
		f.visible("qr-renew")
		if refused := f.text("qr-status"); refused == "" || refused == scanned {
			t.Fatalf("the status line does not report the refusal: %q", refused)
		}
		// What the page was told (its status line says it in the page's language).
		st := eval[struct{ Status, Reason string }](f.tab,
			`fetch(document.getElementById("qr-login").dataset.status, {cache: "no-store"}).then(r => r.json())`)
		if st.Status != "denied" || st.Reason != "wrong_match" {
			t.Fatalf("the page's status = %+v, want denied/wrong_match", st)
		}
		if !strings.HasPrefix(f.location(), f.q.issuer+"/oauth2/auth?") {
			t.Fatalf("the page left the login page: %s", f.location())
		}
	})

	flow("password fallback", func(t *testing.T) {
		f := c.newFlow(t, site, desktopView)
		f.openLogin()
		f.openPasswordByKeyboard()
		f.signInWithPassword()
		f.allowConsent()
		claims := f.signedIn()
		if claims.Subject != f.q.user.ID || !slices.Contains(claims.AMR, "pwd") || slices.Contains(claims.AMR, "qr") {
			t.Fatalf("the RP shows sub=%s amr=%v, want sub=%s amr [pwd]", claims.Subject, claims.AMR, f.q.user.ID)
		}
	})

	flow("another browser", func(t *testing.T) {
		f := c.newFlow(t, site, desktopView)
		ph := f.phone
		id := f.openLogin()

		other := &browserFlow{tab: c.newTab(t, desktopView), qridSite: f.qridSite, rp: f.rp}
		resp := value(other.tab, "open the first browser's event stream",
			chromedp.NavigateResponse(f.q.issuer+"/login/qr/"+id+"/events"))
		if resp.Status != http.StatusNotFound {
			t.Fatalf("another browser's GET /login/qr/%s/events = %d, want 404", id, resp.Status)
		}
		otherID := other.openLogin()
		if otherID == id {
			t.Fatal("two browsers were shown the same QR")
		}
		// Its completion form, pointed at the first browser's code, is refused.
		resp = other.response("complete the first browser's sign-in",
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
				const form = document.getElementById("qr-complete");
				form.elements.qr_id.value = %q;
				form.submit();
			})()`, id)))
		if resp.Status != http.StatusNotFound || strings.HasPrefix(other.location(), f.rp.srv.URL) {
			t.Fatalf("another browser completing this sign-in: %d at %s", resp.Status, other.location())
		}

		// The phone approves the first browser's code: that browser signs in.
		sc := ph.scan(t, f.q.issuer+"/q/"+id)
		if a := ph.confirm(t, sc.ConfirmToken, true, f.text("qr-match-code")); a.Decision != "approved" {
			t.Fatalf("confirm = %+v", a)
		}
		if claims := f.signedIn(); claims.Subject != f.q.user.ID {
			t.Fatalf("the RP shows %+v", claims)
		}
	})

	flow("mobile web app", func(t *testing.T) { testMobileWebApp(t, c) })

	for _, v := range []viewport{desktopView, phoneView} {
		flow("pages at "+v.name+" size", func(t *testing.T) {
			f := c.newFlow(t, site, v)
			ph := f.phone

			f.openRP()
			f.fits()
			f.shot("rp")

			id := f.openLogin()
			f.fits()
			f.visible("qr-status")
			if w := eval[float64](f.tab, `document.getElementById("qr-image").getBoundingClientRect().width`); w < 150 {
				t.Errorf("the QR is %.0f px wide; a camera needs at least 150", w)
			}
			if !eval[bool](f.tab, `(() => { const r = document.getElementById("qr-image").getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()`) {
				t.Error("the QR is not in the first screen of the page")
			}
			f.shot("login")

			sc := ph.scan(t, f.q.issuer+"/q/"+id)
			f.waitState("scanned")
			f.visible("qr-status")
			f.shot("login-scanned")

			ph.confirm(t, sc.ConfirmToken, false, "")
			f.waitState("denied")
			f.visible("qr-status")
			f.visible("qr-renew")
			f.fits()
			f.shot("login-refused")

			f.openPasswordByKeyboard()
			f.fits()
			f.shot("login-password")
			f.signInWithPassword()
			f.fits()
			f.shot("consent")
			f.allowConsent()
			f.signedIn()
			f.shot("rp-signed-in")

			f.do("open the logout page", chromedp.Click(chromedp.ID("rp-logout")),
				chromedp.WaitVisible(chromedp.CSS(`form[action="/oauth2/logout"] button[type="submit"]`)))
			f.fits()
			f.shot("logout")
			f.do("sign out", chromedp.Click(chromedp.CSS(`form[action="/oauth2/logout"] button[type="submit"]`)),
				chromedp.WaitVisible(chromedp.ID("rp-login")))
			if loc := f.location(); !strings.HasPrefix(loc, f.rp.srv.URL+"/") {
				t.Fatalf("after signing out the browser is at %s", loc)
			}

			f.do("open /device", chromedp.Navigate(f.q.issuer+"/device"), chromedp.WaitVisible(chromedp.ID("user_code")))
			f.visible("username")
			f.visible("password")
			f.fits()
			f.shot("device")

			resp := value(f.tab, "a bad authorization request",
				chromedp.NavigateResponse(f.q.issuer+"/oauth2/auth?response_type=code&client_id=no-such-client"))
			if resp.Status < 400 || resp.Status >= 500 {
				t.Fatalf("a bad authorization request answered %d", resp.Status)
			}
			f.do("the error page says what went wrong", chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
			f.fits()
			f.shot("error")
		})
	}

	var wg sync.WaitGroup
	for _, f := range flows {
		wg.Go(func() { t.Run(f.name, f.run) })
	}
	wg.Wait()
}

// qridSite is a running qrid (memory store: these tests are about pages, not
// storage) with alice's phone signed in to its mobile API.
type qridSite struct {
	q     *qrEnv
	phone *phone
}

func newQRIDSite(t *testing.T) *qridSite {
	t.Helper()
	q := newQREnv(t, memoryStore())
	return &qridSite{q: q, phone: q.newPhone(t, "alice", testPassword, "alice-phone")}
}

// browserFlow is one person's browser tab, a qrid and a relying party.
type browserFlow struct {
	*tab
	*qridSite
	rp *testRP
}

// newFlow registers a new relying party with site and opens a tab for it.
func (c *chrome) newFlow(t *testing.T, site *qridSite, v viewport) *browserFlow {
	t.Helper()
	return &browserFlow{tab: c.newTab(t, v), qridSite: site, rp: newTestRP(t, site.q)}
}

// freshQR is a predicate (with the old qr_id to format in): the login page follows a
// QR other than the old one, its image is loaded, and its stream has reported.
const freshQR = `(() => {
	const s = document.getElementById("qr-login"), img = document.getElementById("qr-image");
	return !!s && s.dataset.qrId !== %q && s.dataset.state === "pending" &&
		img.complete && img.naturalWidth > 0 && img.getAttribute("src") === "/qr/" + s.dataset.qrId + ".svg";
})()`

// openRP opens the RP's home page.
func (f *browserFlow) openRP() {
	f.t.Helper()
	f.do("open the RP", chromedp.Navigate(f.rp.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("rp-login")))
}

// openLogin goes from the RP's button to qrid's login page and returns the qr_id it
// shows, once the page follows it live.
func (f *browserFlow) openLogin() string {
	f.t.Helper()
	f.openRP()
	f.do("log in with qrid", chromedp.Click(chromedp.ID("rp-login")), chromedp.WaitVisible(chromedp.ID("qr-image")))
	if loc := f.location(); !strings.HasPrefix(loc, f.q.issuer+"/oauth2/auth?") {
		f.t.Fatalf("the login button led to %s", loc)
	}
	return f.waitQR("")
}

// waitQR waits until the login page follows a QR other than old, and returns it.
func (f *browserFlow) waitQR(old string) string {
	f.t.Helper()
	f.waitFor("the login page shows a QR and follows it", fmt.Sprintf(freshQR, old))
	return eval[string](f.tab, `document.getElementById("qr-login").dataset.qrId`)
}

// waitState waits until the login page has been told the QR's state.
func (f *browserFlow) waitState(state string) {
	f.t.Helper()
	f.waitFor("the login page shows the state "+state,
		fmt.Sprintf(`document.getElementById("qr-login").dataset.state === %q`, state))
}

// openPasswordByKeyboard opens the password fallback as a keyboard user would: focus
// its summary and press Enter.
func (f *browserFlow) openPasswordByKeyboard() {
	f.t.Helper()
	if eval[bool](f.tab, `document.querySelector("details.password").open`) {
		f.t.Fatal("the password form is open before anyone asked for it")
	}
	f.do("focus the password summary and press Enter",
		chromedp.Focus(chromedp.CSS("details.password > summary")), chromedp.KeyEvent(kb.Enter))
	f.waitFor("the password form opens", `document.querySelector("details.password").open`)
	f.visible("username")
	f.visible("password")
}

// signInWithPassword types alice's password into the open fallback form.
func (f *browserFlow) signInWithPassword() {
	f.t.Helper()
	f.do("sign in with the password",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`details.password button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/consent"] button[name="decision"][value="allow"]`)),
	)
}

// allowConsent allows the RP on the consent page.
func (f *browserFlow) allowConsent() {
	f.t.Helper()
	f.do("allow on the consent page", chromedp.Click(chromedp.CSS(`form[action="/consent"] button[name="decision"][value="allow"]`)))
}

// signedIn waits for the RP's signed-in page and returns the ID token claims it shows.
func (f *browserFlow) signedIn() rpClaims {
	f.t.Helper()
	f.do("arrive at the RP", chromedp.WaitVisible(chromedp.CSS("#signed-in, #rp-error")))
	if !strings.HasPrefix(f.location(), f.rp.srv.URL+"/callback?") {
		f.t.Fatalf("the browser arrived at %s", f.location())
	}
	if eval[bool](f.tab, `!!document.getElementById("rp-error")`) {
		f.t.Fatalf("the RP could not sign in: %s", f.text("rp-error"))
	}
	var c rpClaims
	if err := json.Unmarshal([]byte(f.text("rp-claims")), &c); err != nil {
		f.t.Fatalf("the RP's claims: %v", err)
	}
	return c
}

// fits checks the page needs no sideways scrolling at this width.
func (b *tab) fits() {
	b.t.Helper()
	if w := eval[float64](b, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		b.t.Errorf("%s at %s size scrolls sideways by %.0f px", b.location(), b.view.name, w)
	}
}
