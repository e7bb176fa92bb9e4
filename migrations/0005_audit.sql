-- The audit trail of security events (sign-ins, QR decisions, revocations, admin
-- changes). Rows are only ever inserted, and deleted by garbage collection once
-- older than storage.AuditRetention. account_id, client_id and device_id have no
-- foreign keys: the trail outlives the accounts, clients and devices it names. An
-- empty string means "not known".
CREATE TABLE audit_events (
    id         text        PRIMARY KEY,
    time       timestamptz NOT NULL,
    type       text        NOT NULL,
    account_id text        NOT NULL DEFAULT '',
    client_id  text        NOT NULL DEFAULT '',
    device_id  text        NOT NULL DEFAULT '',
    ip         text        NOT NULL DEFAULT '',
    detail     text        NOT NULL DEFAULT ''
);

-- ListAuditEvents by account or by type, newest first; the time index serves the
-- unfiltered list and garbage collection.
CREATE INDEX audit_events_account_time_idx ON audit_events (account_id, time);
CREATE INDEX audit_events_type_time_idx ON audit_events (type, time);
CREATE INDEX audit_events_time_idx ON audit_events (time);

---- create above / drop below ----

DROP TABLE audit_events;
