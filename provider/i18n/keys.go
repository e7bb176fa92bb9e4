package i18n

// The keys the Go code uses. Templates name their own keys as literals.
const (
	// Titles of the error page.
	ErrorInvalidRequest       = "error.invalid_request"
	ErrorRequestRefused       = "error.request_refused"
	ErrorSignInUnavailable    = "error.sign_in_unavailable"
	ErrorSignOutUnavailable   = "error.sign_out_unavailable"
	ErrorUnknownApplication   = "error.unknown_application"
	ErrorSessionEnded         = "error.session_ended"
	ErrorInvalidSignOut       = "error.invalid_sign_out"
	ErrorAuthorizeIncomplete  = "error.authorize_incomplete"
	ErrorSignInNotCompleted   = "error.sign_in_not_completed"
	MessageTryAgain           = "message.try_again"
	MessageFormContentType    = "message.form_content_type"
	MessageFormUnreadable     = "message.form_unreadable"
	MessageFieldTwice         = "message.field_twice"
	MessageParamTwice         = "message.param_twice" // arg: the parameter's name
	MessageForeignForm        = "message.foreign_form"
	MessageForeignFormApp     = "message.foreign_form_app"
	MessageForeignFormRestart = "message.foreign_form_restart"
	MessageAuthzExpired       = "message.authz_expired"
	MessageAuthorizeDetail    = "message.authorize_detail" // arg: the OAuth error's description
	MessageConsentUnanswered  = "message.consent_unanswered"
	MessageConfirmUnanswered  = "message.confirm_unanswered"
	MessageUnknownApplication = "message.unknown_application"
	MessageDeviceSessionEnded = "message.device_session_ended"
	MessageQRNotThisBrowser   = "message.qr_not_this_browser"
	MessageSignOutUnreadable  = "message.sign_out_unreadable"
	MessageBadIDTokenHint     = "message.bad_id_token_hint"
	MessageClientIDMismatch   = "message.client_id_mismatch"
	MessageBadPostLogoutURI   = "message.bad_post_logout_uri"

	// Messages of the login page.
	LoginMissingCredentials = "login.missing_credentials"
	LoginWrongPassword      = "login.wrong_password"
	LoginSessionEnded       = "login.session_ended"
	LoginQRUnavailable      = "login.qr_unavailable"
	LoginQRUsed             = "login.qr_used"
	LoginQRAccountGone      = "login.qr_account_gone"

	// Messages of the /device pages.
	DeviceTooManyAttempts = "device.too_many_attempts"
	DeviceCodeMissing     = "device.code_missing"
	DeviceCodeNotValid    = "device.code_not_valid"
	DoneApproved          = "device_done.approved"
	DoneApprovedMessage   = "device_done.approved_message"
	DoneDenied            = "device_done.denied"
	DoneDeniedMessage     = "device_done.denied_message"

	// The outcomes of QR session operations, one per qr.Error code.
	QRNotFound       = "qr.not_found"
	QRExpired        = "qr.expired"
	QRAlreadyScanned = "qr.already_scanned"
	QRAlreadyUsed    = "qr.already_used"
	QRWrongMatch     = "qr.wrong_match"
	QRForbidden      = "qr.forbidden"
	QRInvalidToken   = "qr.invalid_token"
	QRInvalidRequest = "qr.invalid_request"
	QRRateLimited    = "qr.rate_limited"
	QRFailed         = "qr.failed" // a code this catalog does not know

	// What each scope lets an application do.
	ScopeOpenID        = "scope.openid"
	ScopeProfile       = "scope.profile"
	ScopeEmail         = "scope.email"
	ScopeOfflineAccess = "scope.offline_access"
)
