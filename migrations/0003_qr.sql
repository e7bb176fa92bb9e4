-- QR sign-in sessions (DESIGN §4). The codes and the confirm token are stored only
-- as keyed digests; an empty digest means "none" (a web session has no device code,
-- a pending session no confirm token) and is never unique nor found by a lookup.
CREATE TABLE qr_sessions (
    id                   text        PRIMARY KEY,
    kind                 text        NOT NULL,
    device_code_digest   text        NOT NULL DEFAULT '',
    user_code_digest     text        NOT NULL DEFAULT '',
    client_id            text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes               text[]      NOT NULL DEFAULT '{}',
    state                text        NOT NULL
        CONSTRAINT qr_sessions_state_check
        CHECK (state IN ('pending', 'scanned', 'approved', 'consumed', 'denied')),
    match_code           text        NOT NULL DEFAULT '',
    match_choices        text[]      NOT NULL DEFAULT '{}',
    -- The polling interval in seconds (RFC 8628 §3.5); "interval" is a keyword.
    poll_interval        integer     NOT NULL DEFAULT 0,
    requester_ip         text        NOT NULL DEFAULT '',
    requester_user_agent text        NOT NULL DEFAULT '',
    browser_binding      text        NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    -- Set by a scan. account_id has no foreign key: a decided session is kept
    -- until it is collected, whatever happens to the account meanwhile.
    account_id           text        NOT NULL DEFAULT '',
    device_id            text        NOT NULL DEFAULT '',
    confirm_token_digest text        NOT NULL DEFAULT '',
    confirm_expires_at   timestamptz,
    scanned_at           timestamptz,
    -- Set by the decision.
    decided_at           timestamptz,
    deny_reason          text        NOT NULL DEFAULT '',
    version              bigint      NOT NULL
);

CREATE UNIQUE INDEX qr_sessions_device_code_digest_key ON qr_sessions (device_code_digest)
    WHERE device_code_digest <> '';
CREATE UNIQUE INDEX qr_sessions_user_code_digest_key ON qr_sessions (user_code_digest)
    WHERE user_code_digest <> '';
CREATE UNIQUE INDEX qr_sessions_confirm_token_digest_key ON qr_sessions (confirm_token_digest)
    WHERE confirm_token_digest <> '';
-- CountPendingQRSessions: the open sessions of one client.
CREATE INDEX qr_sessions_client_state_idx ON qr_sessions (client_id, state, expires_at);
CREATE INDEX qr_sessions_expires_at_idx ON qr_sessions (expires_at);

-- Devices signed in to the mobile app; token_digest is the keyed digest of the
-- device token. Signing in again on a device replaces its row, so an account has at
-- most one row per device_id.
CREATE TABLE devices (
    id              text        PRIMARY KEY,
    account_id      text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id       text        NOT NULL,
    device_type     text        NOT NULL DEFAULT '',
    name            text        NOT NULL DEFAULT '',
    token_digest    text        NOT NULL,
    dpop_thumbprint text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz,
    CONSTRAINT devices_token_digest_key UNIQUE (token_digest),
    CONSTRAINT devices_account_device_key UNIQUE (account_id, device_id)
);

-- ListDevices: an account's devices, newest first.
CREATE INDEX devices_account_id_idx ON devices (account_id, created_at);

---- create above / drop below ----

DROP TABLE devices;
DROP TABLE qr_sessions;
