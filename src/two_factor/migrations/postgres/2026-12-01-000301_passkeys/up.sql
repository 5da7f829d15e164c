-- Passkeys and security keys (WebAuthn credentials), several per account.
-- `passkey` is the credential as webauthn-rs keeps it (JSON: the public
-- key, its algorithm, the signature counter and backup flags); only public
-- material, so it is stored as it is. `sign_count` is the counter the
-- last accepted assertion carried, checked and moved in the same UPDATE so
-- that a counter going backwards is refused even when two instances finish
-- sign-ins with the same key at once.
CREATE TABLE tfa_passkeys (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    sign_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX tfa_passkeys_account ON tfa_passkeys (account_id);

-- The server half of a WebAuthn ceremony (the challenge and what it
-- allows), never in a cookie. Keyed by what it is bound to:
-- "register:<session key>" (adding a key on the Security page),
-- "sign-in:<pending login id>" (the second step of a sign-in),
-- "api:<API challenge id>"; starting again replaces it, finishing takes
-- it (single use), and it expires after 5 minutes.
CREATE TABLE tfa_webauthn_ceremonies (
    binding TEXT PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
