-- Devices a user chose "Don't ask again on this device" on. The browser
-- keeps a random token in a cookie; only its SHA-256 is stored. A device
-- is bound to one account and to that account's credential generation
-- (a password change, a two-factor reset or disable, a removed factor or
-- "sign out everywhere" moves it on, and the device stops counting). The
-- expiry is set once and never extended by use.
CREATE TABLE tfa_trusted_devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    device_name TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at BIGINT NOT NULL,
    credential_generation BIGINT NOT NULL
);
CREATE INDEX tfa_trusted_devices_account ON tfa_trusted_devices(account_id);
