-- When a code sent to the phone was last entered correctly. NULL: the
-- number was set at registration or by an admin, and its owner confirms it
-- with the code at their next sign-in. Numbers stored before this change
-- have been in use, so they count as confirmed.
ALTER TABLE tfa_phones ADD COLUMN confirmed_at BIGINT;
UPDATE tfa_phones SET confirmed_at = updated_at;

-- A new number a user asked for on their own profile, waiting for the code
-- sent to it; the number on file stays in use until then. One per account,
-- single use, expires.
CREATE TABLE tfa_phone_changes (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    country TEXT NOT NULL,
    calling_code INTEGER NOT NULL,
    national_number TEXT NOT NULL,
    e164 TEXT NOT NULL,
    authy_id BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    sent_at BIGINT
);
