package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// phoneState is what `qrid phone` keeps between runs, as the mobile app keeps it in
// its secure storage. The file holds a device token: it is written with mode 0600.
type phoneState struct {
	Issuer string `json:"issuer,omitempty"`
	// DeviceID identifies this installation; it is made up once and kept across
	// sign-ins, as a phone keeps its device identifier.
	DeviceID  string `json:"device_id"`
	Token     string `json:"token,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	// ID is the server's identifier of this device's sign-in (see phone devices).
	ID string `json:"id,omitempty"`
	// DPoPKey is the PKCS#8 DER private key (ECDSA P-256) the token is bound to
	// (RFC 9449); every call sends a proof signed with it. Made afresh at each
	// sign-in; empty for a plain bearer token.
	DPoPKey []byte          `json:"dpop_key,omitempty"`
	Pending *pendingConfirm `json:"pending,omitempty"`
}

// pendingConfirm is a scanned sign-in waiting for approve or deny.
type pendingConfirm struct {
	ConfirmToken string        `json:"confirm_token"`
	ExpiresAt    time.Time     `json:"expires_at,omitzero"`
	ClientName   string        `json:"client_name,omitempty"`
	MatchChoices []matchNumber `json:"match_choices,omitempty"`
}

// defaultStatePath is $XDG_CONFIG_HOME/qrid/phone.json, else ~/.config/qrid/phone.json.
func (a *app) defaultStatePath() (string, error) {
	if dir, ok := a.lookupEnv("XDG_CONFIG_HOME"); ok && filepath.IsAbs(dir) {
		return filepath.Join(dir, "qrid", "phone.json"), nil
	}
	if home, ok := a.lookupEnv("HOME"); ok && home != "" {
		return filepath.Join(home, ".config", "qrid", "phone.json"), nil
	}
	return "", usageError{errors.New("cannot tell where to keep the phone state: set HOME or XDG_CONFIG_HOME, or give --state FILE")}
}

// loadPhoneState reads the state file; a missing file is an empty state.
func loadPhoneState(path string) (*phoneState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &phoneState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the phone state: %w", err)
	}
	var st phoneState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("the phone state %s is damaged (%v); remove it and run qrid phone login again", path, err)
	}
	return &st, nil
}

// save writes the state file with mode 0600, atomically: a crash leaves the old
// file or the new one, never half of one.
func (st *phoneState) save(path string) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the directory of the phone state: %w", err)
	}
	f, err := os.CreateTemp(dir, ".phone-*.json")
	if err != nil {
		return fmt.Errorf("writing the phone state: %w", err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing the phone state: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing the phone state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the phone state: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing the phone state: %w", err)
	}
	return nil
}

// signedIn reports an error unless the state holds a device token.
func (st *phoneState) signedIn() error {
	if st.Token == "" || st.Issuer == "" {
		return errors.New("this phone is not signed in: run qrid phone login --issuer URL --username NAME")
	}
	return nil
}

// newDPoPKey makes the ES256 key a sign-in binds its token to, and its PKCS#8 form
// for the state file.
func newDPoPKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, der, nil
}

// dpopKey returns the key the token is bound to, nil for a bearer token.
func (st *phoneState) dpopKey() (*ecdsa.PrivateKey, error) {
	if len(st.DPoPKey) == 0 {
		return nil, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(st.DPoPKey)
	if ec, ok := k.(*ecdsa.PrivateKey); err == nil && ok && ec.Curve == elliptic.P256() {
		return ec, nil
	}
	return nil, errors.New("the phone state's DPoP key is damaged; run qrid phone login again")
}

// newDeviceID makes up a device identifier: 128 random bits in hex.
func newDeviceID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
