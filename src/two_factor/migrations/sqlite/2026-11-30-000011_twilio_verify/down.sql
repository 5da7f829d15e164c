ALTER TABLE tfa_phones DROP COLUMN refused_at;
DROP TABLE tfa_connection_tests;
ALTER TABLE tfa_code_holders DROP COLUMN verification_sid;
