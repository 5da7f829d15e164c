ALTER TABLE pending_logins DROP COLUMN credential_generation;
ALTER TABLE accounts DROP COLUMN credential_generation;
