package audit

// The event types, stored as storage.AuditEvent.Type.
const (
	// LoginPasswordOK and LoginPasswordFailed: a password sign-in on the web (the
	// login page's form, or the /device page).
	LoginPasswordOK     = "login.password.ok"
	LoginPasswordFailed = "login.password.failed"
	// MobileLoginOK and MobileLoginFailed: the mobile app's sign-in.
	MobileLoginOK     = "mobile.login.ok"
	MobileLoginFailed = "mobile.login.failed"
	// QRScanned: a phone scanned a QR code or typed a user code (again, for the
	// same phone). QRContested: a second device scanned an already scanned code,
	// which closed it. QRApproved, QRDenied: the person decided. QRWrongMatch: the
	// wrong number was picked, which refused the sign-in.
	QRScanned    = "qr.scanned"
	QRContested  = "qr.contested"
	QRApproved   = "qr.approved"
	QRDenied     = "qr.denied"
	QRWrongMatch = "qr.wrong_match"
	// DeviceRevoked: a device was signed out by the account's other device or by an
	// admin. DeviceLogout: a device signed itself out.
	DeviceRevoked = "device.revoked"
	DeviceLogout  = "device.logout"
	// RefreshTokenReused: a rotated refresh token was presented again, and its
	// grant revoked.
	RefreshTokenReused = "refresh_token.reused"
	// Admin changes.
	ClientCreated       = "client.created"
	ClientDeleted       = "client.deleted"
	ClientSecretRotated = "client.secret_rotated"
	UserCreated         = "user.created"
	UserDeleted         = "user.deleted"
	KeysRotated         = "keys.rotated"
)

// Types lists every event type, in the order above.
var Types = []string{
	LoginPasswordOK, LoginPasswordFailed,
	MobileLoginOK, MobileLoginFailed,
	QRScanned, QRContested, QRApproved, QRDenied, QRWrongMatch,
	DeviceRevoked, DeviceLogout,
	RefreshTokenReused,
	ClientCreated, ClientDeleted, ClientSecretRotated,
	UserCreated, UserDeleted,
	KeysRotated,
}
