-- The Authy-compatible sandbox (test mode): users, tokens, outbox, push
-- approvals, phone verifications, rate-limit windows and monthly counters.

CREATE TABLE sandbox_users (
    id BIGSERIAL PRIMARY KEY,
    country_code INTEGER NOT NULL,
    cellphone TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    removed_at BIGINT,
    UNIQUE (country_code, cellphone)
);

CREATE TABLE sandbox_tokens (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES sandbox_users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    channel TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE sandbox_outbox (
    id BIGSERIAL PRIMARY KEY,
    sent_at BIGINT NOT NULL,
    channel TEXT NOT NULL,
    country_code INTEGER NOT NULL,
    phone TEXT NOT NULL,
    full_phone TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX sandbox_outbox_phone ON sandbox_outbox(phone, id);
CREATE INDEX sandbox_outbox_full_phone ON sandbox_outbox(full_phone, id);

CREATE TABLE sandbox_approvals (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES sandbox_users(id) ON DELETE CASCADE,
    message TEXT NOT NULL,
    details TEXT NOT NULL,
    hidden_details TEXT NOT NULL,
    logos TEXT NOT NULL,
    seconds_to_expire BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    processed_at BIGINT
);
CREATE INDEX sandbox_approvals_status ON sandbox_approvals(status, id);

CREATE TABLE sandbox_verifications (
    id BIGSERIAL PRIMARY KEY,
    uuid TEXT NOT NULL,
    country_code INTEGER NOT NULL,
    phone TEXT NOT NULL,
    via TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    code_length INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (country_code, phone)
);

CREATE TABLE sandbox_rate_limits (
    key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);

CREATE TABLE sandbox_stats (
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    api_calls BIGINT NOT NULL DEFAULT 0,
    auths BIGINT NOT NULL DEFAULT 0,
    sms BIGINT NOT NULL DEFAULT 0,
    calls BIGINT NOT NULL DEFAULT 0,
    users BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (year, month)
);
