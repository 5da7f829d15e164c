DROP TABLE tfa_connection_tests;
ALTER TABLE tfa_code_holders DROP COLUMN verification_sid;
