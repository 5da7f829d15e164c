-- Two Factor Authentication addon: authenticator app (TOTP), recovery codes,
-- API sign-in challenges and API tokens (session tokens and personal access tokens).

-- One authenticator app per account. The secret is encrypted with the
-- store's key; last_step is the last accepted 30-second step (replay guard).
CREATE TABLE tfa_totp (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    confirmed BOOLEAN NOT NULL DEFAULT 0,
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Recovery codes, stored as keyed hashes; used_at set once.
CREATE TABLE tfa_recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX tfa_recovery_codes_account ON tfa_recovery_codes(account_id);

-- API sign-in challenges (the API's pending logins): id stored as SHA-256.
CREATE TABLE tfa_api_challenges (
    id_hash TEXT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    attempts INTEGER NOT NULL DEFAULT 0,
    completed BOOLEAN NOT NULL DEFAULT 0,
    sms_sent_at BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- API bearer tokens: kind 'session' (from sign-in) or 'pat' (personal access
-- token); scope 'read' or 'full'; stored as SHA-256.
CREATE TABLE tfa_api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX tfa_api_tokens_account ON tfa_api_tokens(account_id);
