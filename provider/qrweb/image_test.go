package qrweb

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// decodeQR reads the text of the QR code in img, as a phone would.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

func TestImagePNG(t *testing.T) {
	tests := []struct {
		name  string
		query string
		size  int
	}{
		{"ok/default size", "", 256},
		{"ok/smallest", "?size=128", 128},
		{"ok/largest", "?size=1024", 1024},
		{"ok/odd size", "?size=333", 333},
		{"ok/explicit png", "?format=png&size=200", 200},
		{"ok/cache buster ignored", "?t=12345", 256},
	}
	r, _, _ := newTestRouter(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, r, "/qr/"+idPending+".png"+tt.query)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "image/png" {
				t.Errorf("Content-Type %q", ct)
			}
			img, err := png.Decode(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tt.size || b.Dy() != tt.size {
				t.Errorf("image is %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.size, tt.size)
			}
			if got, want := decodeQR(t, img), testIssuer+"/q/"+idPending; got != want {
				t.Errorf("QR says %q, want %q", got, want)
			}
		})
	}
}

// svgRun is one subpath of the image's path: a rectangle run modules wide.
var svgRun = regexp.MustCompile(`^M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

// rasterizeSVG draws the SVG the handler wrote (one white rect, one path of
// module runs) at scale pixels per module, failing on anything else in the path.
func rasterizeSVG(t *testing.T, n int, d string, scale int) image.Image {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for d != "" {
		m := svgRun.FindStringSubmatch(d)
		if m == nil {
			t.Fatalf("unexpected path data at %.30q", d)
		}
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		w, _ := strconv.Atoi(m[3])
		if m[3] != m[4] || x+w > n || y >= n {
			t.Fatalf("subpath %q is not a run inside the %d-module viewBox", m[0], n)
		}
		draw.Draw(img, image.Rect(x*scale, y*scale, (x+w)*scale, (y+1)*scale), image.NewUniform(color.Black), image.Point{}, draw.Src)
		d = d[len(m[0]):]
	}
	return img
}

func TestImageSVG(t *testing.T) {
	tests := []struct {
		name   string
		target string
		size   string
	}{
		{"ok/svg path", "/qr/" + idPending + ".svg", "256"},
		{"ok/png path format=svg", "/qr/" + idPending + ".png?format=svg", "256"},
		{"ok/svg with size", "/qr/" + idPending + ".svg?size=512", "512"},
		{"ok/svg format=svg", "/qr/" + idPending + ".svg?format=svg", "256"},
	}
	r, _, _ := newTestRouter(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, r, tt.target)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "image/svg+xml" {
				t.Errorf("Content-Type %q", ct)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if bytes.Contains(bytes.ToLower(body), []byte("<script")) {
				t.Error("the SVG contains a script")
			}
			// Well-formed XML, and collect what the test needs on the way.
			var (
				root                      xml.StartElement
				viewBox, d, width, height string
				paths                     int
			)
			dec := xml.NewDecoder(bytes.NewReader(body))
			for {
				tok, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("SVG is not well-formed XML: %v", err)
				}
				el, ok := tok.(xml.StartElement)
				if !ok {
					continue
				}
				if root.Name.Local == "" {
					root = el
				}
				for _, a := range el.Attr {
					switch {
					case el.Name.Local == "svg" && a.Name.Local == "viewBox":
						viewBox = a.Value
					case el.Name.Local == "svg" && a.Name.Local == "width":
						width = a.Value
					case el.Name.Local == "svg" && a.Name.Local == "height":
						height = a.Value
					case el.Name.Local == "svg" && a.Name.Local == "shape-rendering" && a.Value != "crispEdges":
						t.Errorf("shape-rendering %q", a.Value)
					case el.Name.Local == "path" && a.Name.Local == "d":
						d = a.Value
					}
				}
				if el.Name.Local == "path" {
					paths++
				}
			}
			if root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
				t.Fatalf("root element %v", root.Name)
			}
			if width != tt.size || height != tt.size {
				t.Errorf("width %q height %q, want %s", width, height, tt.size)
			}
			if paths != 1 {
				t.Errorf("%d paths, want 1", paths)
			}
			var n int
			if _, err := fmt.Sscanf(viewBox, "0 0 %d %d", &n, new(int)); err != nil || viewBox != fmt.Sprintf("0 0 %d %d", n, n) {
				t.Fatalf("viewBox %q is not a square from the origin", viewBox)
			}
			// Round trip: what the path draws is the QR of the session's URL,
			// quiet zone included (the reader needs it).
			if got, want := decodeQR(t, rasterizeSVG(t, n, d, 8)), testIssuer+"/q/"+idPending; got != want {
				t.Errorf("QR says %q, want %q", got, want)
			}
		})
	}
}

func TestImageCaching(t *testing.T) {
	expires := t0.Add(300 * time.Second)
	tests := []struct {
		name   string
		now    time.Time
		maxAge string
	}{
		{"ok/at creation", t0, "300"},
		{"ok/100 s later", t0.Add(100 * time.Second), "200"},
		{"ok/fraction rounds down", t0.Add(100*time.Second + 500*time.Millisecond), "199"},
		{"ok/last half second", expires.Add(-500 * time.Millisecond), "0"},
	}
	r, c, _ := newTestRouter(t)
	for _, tt := range tests {
		for _, ext := range []string{".png", ".svg"} {
			t.Run(tt.name+ext, func(t *testing.T) {
				c.Set(tt.now)
				res, body := get(t, r, "/qr/"+idPending+ext)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", res.StatusCode, body)
				}
				if got, want := res.Header.Get("Cache-Control"), "private, max-age="+tt.maxAge; got != want {
					t.Errorf("Cache-Control %q, want %q", got, want)
				}
				if got, want := res.Header.Get("Expires"), expires.Format(http.TimeFormat); got != want {
					t.Errorf("Expires %q, want %q", got, want)
				}
				if got := res.Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
					t.Errorf("Content-Length %q for %d bytes", got, len(body))
				}
			})
		}
	}
}

// assertJSONError checks a JSON error answer of qrid's APIs.
func assertJSONError(t *testing.T, res *http.Response, body []byte, status int, code string) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	var e struct{ Error, Message string }
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if e.Error != code || e.Message == "" {
		t.Errorf("error %q message %q, want code %q and a message", e.Error, e.Message, code)
	}
}

func TestImageNotFound(t *testing.T) {
	tests := []struct {
		name string
		id   string
		now  time.Time
	}{
		{"fail/unknown", idUnknown, t0},
		{"fail/expired", idExpired, t0},
		{"fail/expires this instant", idPending, t0.Add(300 * time.Second)},
		{"fail/approved", idApproved, t0},
		{"fail/denied", idDenied, t0},
		{"fail/consumed", idConsumed, t0},
		{"fail/malformed short", "AAAA", t0},
		{"fail/malformed long", idPending + "A", t0},
		{"fail/malformed standard base64", "AAAAAAAAAAAAAAAAAAAA+A", t0},
		{"fail/malformed padding", "AAAAAAAAAAAAAAAAAAAA==", t0},
		{"fail/malformed dot", "AAAAAAAAAAAAAAAAAAAAA.", t0},
	}
	r, c, _ := newTestRouter(t)
	for _, tt := range tests {
		for _, suffix := range []string{".png", ".svg", ".png?format=svg", ".png?size=512"} {
			t.Run(tt.name+suffix, func(t *testing.T) {
				c.Set(tt.now)
				res, body := get(t, r, "/qr/"+tt.id+suffix)
				assertJSONError(t, res, body, http.StatusNotFound, "not_found")
			})
		}
	}
}

func TestImageLiveStates(t *testing.T) {
	r, _, _ := newTestRouter(t)
	for _, id := range []string{idPending, idScanned} {
		t.Run("ok/"+id, func(t *testing.T) {
			res, body := get(t, r, "/qr/"+id+".png")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
		})
	}
}

func TestImageBadRequest(t *testing.T) {
	tests := []struct{ name, query string }{
		{"fail/size zero", "?size=0"},
		{"fail/size below range", "?size=127"},
		{"fail/size above range", "?size=1025"},
		{"fail/size huge", "?size=99999999999999999999"},
		{"fail/size negative", "?size=-256"},
		{"fail/size signed", "?size=%2B256"},
		{"fail/size not a number", "?size=abc"},
		{"fail/size empty", "?size="},
		{"fail/size fractional", "?size=256.5"},
		{"fail/size repeated", "?size=256&size=256"},
		{"fail/format unknown", "?format=gif"},
		{"fail/format repeated", "?format=svg&format=svg"},
		{"fail/query malformed", "?size=%zz"},
	}
	r, _, _ := newTestRouter(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, r, "/qr/"+idPending+".png"+tt.query)
			assertJSONError(t, res, body, http.StatusBadRequest, "invalid_request")
		})
	}
	t.Run("fail/svg path format=png", func(t *testing.T) {
		res, body := get(t, r, "/qr/"+idPending+".svg?format=png")
		assertJSONError(t, res, body, http.StatusBadRequest, "invalid_request")
	})
}

func TestImageStoreFailure(t *testing.T) {
	r, _, _ := newTestRouter(t)
	res, body := get(t, r, "/qr/"+idBroken+".png")
	assertJSONError(t, res, body, http.StatusInternalServerError, "server_error")
	if bytes.Contains(body, []byte("unreachable")) {
		t.Errorf("the store's error leaked: %s", body)
	}
}

func TestImageHead(t *testing.T) {
	r, _, _ := newTestRouter(t)
	rec := httptestRecorder(r, http.MethodHead, "/qr/"+idPending+".png")
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, %d body bytes", rec.Code, rec.Body.Len())
	}
	if rec.Header().Get("Content-Length") == "" {
		t.Error("HEAD answers no Content-Length")
	}
}
