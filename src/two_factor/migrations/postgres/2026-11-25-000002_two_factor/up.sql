-- Two Factor Authentication addon.

-- One phone per account, normalised (E.164), and the gateway's user id for it.
CREATE TABLE tfa_phones (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    country TEXT NOT NULL,
    calling_code INTEGER NOT NULL,
    national_number TEXT NOT NULL,
    e164 TEXT NOT NULL,
    authy_id BIGINT,
    updated_at BIGINT NOT NULL
);

-- One row per pending login the addon challenged.
CREATE TABLE tfa_challenges (
    pending_id TEXT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sent_at BIGINT,
    completed BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX tfa_challenges_created ON tfa_challenges(created_at);

-- Fixed-window counters: failed codes, lockouts, send cooldowns and quotas.
CREATE TABLE tfa_counters (
    key TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX tfa_counters_window ON tfa_counters(window_start);

-- Small addon state (gateway's last error).
CREATE TABLE tfa_state (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE tfa_audit (
    id BIGSERIAL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    account_id BIGINT,
    account_email TEXT NOT NULL DEFAULT '',
    interface TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tfa_audit_email ON tfa_audit(account_email);
