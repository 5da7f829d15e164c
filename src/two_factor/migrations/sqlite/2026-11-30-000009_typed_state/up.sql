-- tfa_state was one string key-value table doing four jobs. Each job gets
-- a typed table; what the old table held is carried over, then it goes.

-- Which sign-in (or page) the account's last texted code was sent for.
CREATE TABLE tfa_code_holders (
    account_id BIGINT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Where a completed sign-in was going, for the page shown in between.
CREATE TABLE tfa_page_notes (
    account_id BIGINT NOT NULL,
    page TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, page)
);
-- A notice for the account's profile page (the outcome of "send a code").
CREATE TABLE tfa_notices (
    account_id BIGINT PRIMARY KEY NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- The gateway's last error, for the settings page (one row, id 1).
CREATE TABLE tfa_gateway_errors (
    id INTEGER PRIMARY KEY NOT NULL,
    text TEXT NOT NULL,
    at BIGINT NOT NULL
);

INSERT INTO tfa_code_holders (account_id, purpose, updated_at)
    SELECT CAST(substr(key, 18) AS BIGINT), value, updated_at FROM tfa_state
    WHERE key LIKE 'code-holder:acct:%';
INSERT INTO tfa_page_notes (account_id, page, target, created_at)
    SELECT CAST(substr(key, 13) AS BIGINT), 'first-codes', value, updated_at FROM tfa_state
    WHERE key LIKE 'first-codes:%';
INSERT INTO tfa_page_notes (account_id, page, target, created_at)
    SELECT CAST(substr(key, 15) AS BIGINT), 'recovery-used', value, updated_at FROM tfa_state
    WHERE key LIKE 'recovery-used:%';
INSERT INTO tfa_notices (account_id, text, created_at)
    SELECT CAST(substr(key, 13) AS BIGINT), value, updated_at FROM tfa_state
    WHERE key LIKE 'notice:acct:%';
INSERT INTO tfa_gateway_errors (id, text, at)
    SELECT 1, value, updated_at FROM tfa_state WHERE key = 'last_gateway_error';

DROP TABLE tfa_state;
