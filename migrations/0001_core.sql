-- Registered OAuth 2.0 clients (RFC 7591 metadata plus qrid's own).
CREATE TABLE clients (
    id                          text        PRIMARY KEY,
    secret_digest               bytea       NOT NULL DEFAULT '',
    name                        text        NOT NULL DEFAULT '',
    redirect_uris               text[]      NOT NULL DEFAULT '{}',
    post_logout_redirect_uris   text[]      NOT NULL DEFAULT '{}',
    grant_types                 text[]      NOT NULL DEFAULT '{}',
    response_types              text[]      NOT NULL DEFAULT '{}',
    scopes                      text[]      NOT NULL DEFAULT '{}',
    token_endpoint_auth_method  text        NOT NULL DEFAULT '',
    logo_uri                    text        NOT NULL DEFAULT '',
    client_uri                  text        NOT NULL DEFAULT '',
    id_token_signed_response_alg text       NOT NULL DEFAULT '',
    first_party                 boolean     NOT NULL DEFAULT false,
    created_at                  timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL
);

CREATE INDEX clients_created_at_idx ON clients (created_at, id);

-- People who can sign in. id is the stable subject identifier.
CREATE TABLE users (
    id            text        PRIMARY KEY,
    username      text        NOT NULL,
    password_hash text        NOT NULL DEFAULT '',
    name          text        NOT NULL DEFAULT '',
    email         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE INDEX users_created_at_idx ON users (created_at, id);

-- ID token signing keys; the private key is only ever stored sealed.
CREATE TABLE signing_keys (
    id                 text        PRIMARY KEY,
    algorithm          text        NOT NULL,
    private_key_sealed bytea       NOT NULL,
    public_key_jwk     bytea       NOT NULL,
    created_at         timestamptz NOT NULL,
    retired_at         timestamptz,
    expires_at         timestamptz
);

-- At most one active key per algorithm: a second active key is a unique violation.
CREATE UNIQUE INDEX signing_keys_one_active_idx ON signing_keys (algorithm)
    WHERE retired_at IS NULL;

CREATE INDEX signing_keys_expires_at_idx ON signing_keys (expires_at)
    WHERE retired_at IS NOT NULL;

---- create above / drop below ----

DROP TABLE signing_keys;
DROP TABLE users;
DROP TABLE clients;
