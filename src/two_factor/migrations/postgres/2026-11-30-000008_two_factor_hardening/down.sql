DROP TABLE tfa_confirmed_access;
ALTER TABLE tfa_api_challenges DROP COLUMN credential_generation;
