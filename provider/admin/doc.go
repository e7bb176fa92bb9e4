// Package admin is qrid's admin API (served on its own listener).
package admin

// Service is the admin logic shared by the HTTP API and `qrid serve --dev`.
type Service struct{}
