package main

import (
	"errors"
	"fmt"
	"image"
	_ "image/png" // registers the PNG decoder for decodeQRFile
	"os"
	"strings"

	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"
)

// terminalQR renders content as a QR code drawn with Unicode half blocks (two
// modules a character high), quiet zone included, for printing in a terminal. The
// light modules are drawn and the dark ones left as the background, which suits the
// usual light text on a dark terminal.
func terminalQR(content string) (string, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("drawing the QR code: %w", err)
	}
	return q.ToSmallString(false), nil
}

// maxQRFileSize bounds the PNG files that decodeQRFile reads.
const maxQRFileSize = 20 << 20

// decodeQRFile reads the text of the QR code in an image file (PNG).
func decodeQRFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxQRFileSize {
		return "", fmt.Errorf("%s is too large for a QR code image (%d bytes)", name, st.Size())
	}
	img, format, err := image.Decode(f)
	if err != nil {
		return "", fmt.Errorf("%s is not a PNG image: %v", name, err)
	}
	if format != "png" {
		return "", fmt.Errorf("%s is a %s image; give a PNG", name, format)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("reading the image %s: %v", name, err)
	}
	res, err := zxingqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_TRY_HARDER: true,
	})
	if err != nil {
		return "", fmt.Errorf("no readable QR code in %s", name)
	}
	text := strings.TrimSpace(res.GetText())
	if text == "" {
		return "", errors.New("the QR code in " + name + " is empty")
	}
	return text, nil
}
