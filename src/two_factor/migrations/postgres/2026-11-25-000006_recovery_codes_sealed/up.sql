-- Recovery codes can be shown again ("View recovery codes", after the
-- password): besides the keyed hash that is checked at sign-in, each code
-- is kept encrypted with the store's secret key (the same protection as
-- the authenticator-app secret). NULL for codes made before this column.
ALTER TABLE tfa_recovery_codes ADD COLUMN code_sealed TEXT;
