-- The DPoP proofs already used (RFC 9449 §11.1): one row per (key thumbprint, jti),
-- kept until the proof could no longer be accepted anyway, then garbage-collected.
-- The primary key makes "use a proof" one conditional INSERT, so a proof replayed
-- to another node, or twice at once, is refused.
CREATE TABLE dpop_proofs (
    jkt        text        NOT NULL,
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT dpop_proofs_pkey PRIMARY KEY (jkt, jti)
);

CREATE INDEX dpop_proofs_expires_at_idx ON dpop_proofs (expires_at);

---- create above / drop below ----

DROP TABLE dpop_proofs;
