-- Stored grants (authorization codes, access and refresh tokens, PKCE and OpenID
-- Connect requests), looked up by the token's HMAC signature.
CREATE TABLE token_sessions (
    kind       text        NOT NULL,
    signature  text        NOT NULL,
    request_id text        NOT NULL,
    client_id  text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    -- A user id, or a client id for client_credentials tokens: no foreign key.
    subject    text        NOT NULL DEFAULT '',
    active     boolean     NOT NULL,
    request    bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (kind, signature)
);

CREATE INDEX token_sessions_request_idx ON token_sessions (kind, request_id);
CREATE INDEX token_sessions_expires_at_idx ON token_sessions (expires_at);
CREATE INDEX token_sessions_client_id_idx ON token_sessions (client_id);
CREATE INDEX token_sessions_subject_idx ON token_sessions (subject);

-- What a user allowed a client, one row per (subject, client).
CREATE TABLE consents (
    subject    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes     text[]      NOT NULL DEFAULT '{}',
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (subject, client_id)
);

CREATE INDEX consents_client_id_idx ON consents (client_id);

-- Single sign-on sessions; id is the keyed digest of the cookie value.
CREATE TABLE browser_sessions (
    id         text        PRIMARY KEY,
    subject    text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  timestamptz NOT NULL,
    amr        text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX browser_sessions_subject_idx ON browser_sessions (subject);
CREATE INDEX browser_sessions_expires_at_idx ON browser_sessions (expires_at);

---- create above / drop below ----

DROP TABLE browser_sessions;
DROP TABLE consents;
DROP TABLE token_sessions;
