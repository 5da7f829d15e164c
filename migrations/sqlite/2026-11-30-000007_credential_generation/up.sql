-- Each account's credential generation moves on with every password
-- change, two-factor reset or disable and "sign out everywhere". A pending
-- sign-in keeps the generation it started under and is refused at its next
-- step once they differ, even if it raced with the change.
ALTER TABLE accounts ADD COLUMN credential_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE pending_logins ADD COLUMN credential_generation BIGINT NOT NULL DEFAULT 0;
