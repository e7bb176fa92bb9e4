package qrweb

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	qrcode "github.com/skip2/go-qrcode"
)

// Image sizes in pixels (width and height).
const (
	defaultSize = 256
	minSize     = 128
	maxSize     = 1024
)

// svgCSP replaces the provider's page policy on SVG images: an image needs nothing.
const svgCSP = "default-src 'none'; frame-ancestors 'none'"

type imageFormat int

const (
	formatPNG imageFormat = iota
	formatSVG
)

func (h *Handler) servePNG(w http.ResponseWriter, r *http.Request) { h.serveImage(w, r, formatPNG) }
func (h *Handler) serveSVG(w http.ResponseWriter, r *http.Request) { h.serveImage(w, r, formatSVG) }

// serveImage serves GET /qr/{qr_id}.png and .svg; ext is the format the path asks.
func (h *Handler) serveImage(w http.ResponseWriter, r *http.Request, ext imageFormat) {
	now := h.now()
	id := mux.Vars(r)["qr_id"]
	if !validID(id) {
		writeError(w, http.StatusNotFound, "not_found", notFoundMessage)
		return
	}
	format, size, msg := imageOptions(r.URL.RawQuery, ext)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	s, err := h.liveSession(r.Context(), id, now)
	if gone(err) {
		writeError(w, http.StatusNotFound, "not_found", notFoundMessage)
		return
	}
	if err != nil {
		h.log().ErrorContext(r.Context(), "look up QR session", "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "The sign-in code could not be read; try again.")
		return
	}
	code, err := qrcode.New(h.content(id), qrcode.Medium)
	if err != nil {
		// Only an issuer too long for a QR code gets here.
		h.log().ErrorContext(r.Context(), "encode QR code", "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "The QR code could not be drawn.")
		return
	}
	var body []byte
	switch format {
	case formatSVG:
		body = svg(code.Bitmap(), size)
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Content-Security-Policy", svgCSP)
	default:
		body, err = code.PNG(size)
		if err != nil {
			h.log().ErrorContext(r.Context(), "encode PNG", "err", err)
			writeError(w, http.StatusInternalServerError, "server_error", "The QR code could not be drawn.")
			return
		}
		w.Header().Set("Content-Type", "image/png")
	}
	// Cacheable while the session lives and not a second longer: max-age is the
	// whole seconds left, Expires the session's expiry (HTTP dates drop the
	// fraction, so it never lies late).
	maxAge := max(int64(s.ExpiresAt.Sub(now)/time.Second), 0)
	w.Header().Set("Cache-Control", "private, max-age="+strconv.FormatInt(maxAge, 10))
	w.Header().Set("Expires", s.ExpiresAt.UTC().Format(http.TimeFormat))
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// imageOptions reads the query of an image request: format (png or svg; on a .png
// path it may ask for SVG, per DESIGN §1a) and size. msg is non-empty when the query
// is bad. Other parameters (cache busters) are ignored.
func imageOptions(rawQuery string, ext imageFormat) (format imageFormat, size int, msg string) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, 0, "The query string is malformed."
	}
	format, size = ext, defaultSize
	switch v := q["format"]; {
	case len(v) > 1:
		return 0, 0, "The format parameter is repeated."
	case len(v) == 0:
	case v[0] == "svg":
		format = formatSVG
	case v[0] == "png" && ext == formatPNG:
	case v[0] == "png":
		return 0, 0, "The format parameter contradicts the .svg path; use .png for PNG."
	default:
		return 0, 0, "The format must be png or svg."
	}
	switch v := q["size"]; {
	case len(v) > 1:
		return 0, 0, "The size parameter is repeated."
	case len(v) == 1:
		n, ok := digits(v[0])
		if !ok || n < minSize || n > maxSize {
			return 0, 0, "The size must be a whole number of pixels from 128 to 1024."
		}
		size = n
	}
	return format, size, ""
}

// digits parses a short string of ASCII digits (no sign, no spaces).
func digits(s string) (int, bool) {
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// svg draws a QR module bitmap (quiet zone included, bitmap[y][x] true when dark)
// as an SVG image of size×size pixels: a white square and one path whose subpaths
// are the horizontal runs of dark modules, each a rectangle one module high, in a
// viewBox of one unit per module.
func svg(bitmap [][]bool, size int) []byte {
	n := len(bitmap)
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" role="img" aria-label="QR code to sign in with qrid"`)
	b.WriteString(` width="` + strconv.Itoa(size) + `" height="` + strconv.Itoa(size) + `"`)
	b.WriteString(` viewBox="0 0 ` + strconv.Itoa(n) + ` ` + strconv.Itoa(n) + `" shape-rendering="crispEdges">`)
	b.WriteString(`<title>QR code to sign in with qrid</title>`)
	b.WriteString(`<rect width="` + strconv.Itoa(n) + `" height="` + strconv.Itoa(n) + `" fill="#fff"/>`)
	b.WriteString(`<path fill="#000" d="`)
	for y, row := range bitmap {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 0
			for x+run < len(row) && row[x+run] {
				run++
			}
			// M x y h run v1 h -run z: one rectangle, run modules wide, one high.
			b.WriteString("M" + strconv.Itoa(x) + " " + strconv.Itoa(y) +
				"h" + strconv.Itoa(run) + "v1h-" + strconv.Itoa(run) + "z")
			x += run
		}
	}
	b.WriteString(`"/></svg>` + "\n")
	return b.Bytes()
}
