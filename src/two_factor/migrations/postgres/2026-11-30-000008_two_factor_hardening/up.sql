-- An API sign-in challenge is bound to the credential generation of the
-- account when it was made (see accounts.credential_generation).
ALTER TABLE tfa_api_challenges ADD COLUMN credential_generation BIGINT NOT NULL DEFAULT 0;

-- "Confirm it is you": an admin session that re-entered its password and
-- second factor may change admins' two-factor settings until expires_at.
CREATE TABLE tfa_confirmed_access (
    session_key TEXT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
