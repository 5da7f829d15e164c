ALTER TABLE tfa_recovery_codes DROP COLUMN code_sealed;
