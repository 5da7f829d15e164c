-- The server half of a passkey sign-in (no email, no password), before
-- anyone knows whose key will answer: so it belongs to no account, only to
-- the browser's session (`session_key`, the hash the host gives for it).
-- Starting again replaces it, the answer takes it (single use), and it
-- expires after 5 minutes.
CREATE TABLE tfa_passkey_sign_in_ceremonies (
    session_key TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
