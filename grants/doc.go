// Package grants holds qrid's own OAuth 2.0 grant types, each in a sub-package shaped
// like fosite's handlers (a TokenEndpointHandler registered through a compose
// factory). The QR grant (RFC 8628 compatible) lives in grants/qr.
package grants
