-- Twilio Verify: the verification a sign-in's code belongs to is kept with
-- the sign-in that holds the code, so a check names it (never just the
-- phone number).
ALTER TABLE tfa_code_holders ADD COLUMN verification_sid TEXT;
-- The last "Test connection" from the settings page (one row, id 1).
CREATE TABLE tfa_connection_tests (
    id INTEGER PRIMARY KEY NOT NULL,
    ok BOOLEAN NOT NULL,
    text TEXT NOT NULL,
    at BIGINT NOT NULL
);
-- When the gateway said the phone number is not valid (Verify 60200):
-- the profile asks for a correct one until the number changes.
ALTER TABLE tfa_phones ADD COLUMN refused_at BIGINT;
