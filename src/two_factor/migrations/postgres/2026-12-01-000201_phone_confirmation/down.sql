DROP TABLE tfa_phone_changes;
ALTER TABLE tfa_phones DROP COLUMN confirmed_at;
