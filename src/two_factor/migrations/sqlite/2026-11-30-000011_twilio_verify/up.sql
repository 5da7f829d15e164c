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
