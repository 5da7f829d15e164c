-- When a sign-in first saw that the store requires two-factor
-- authentication of an account that has no second factor: its grace
-- period counts from here, with the length the settings give now (so a
-- shorter grace period applies to everyone already counting).
CREATE TABLE tfa_setup_grace (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL
);
CREATE INDEX tfa_setup_grace_started ON tfa_setup_grace(started_at);
