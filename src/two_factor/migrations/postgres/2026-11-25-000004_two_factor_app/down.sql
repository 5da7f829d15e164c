DROP TABLE tfa_api_tokens;
DROP TABLE tfa_api_challenges;
DROP TABLE tfa_recovery_codes;
DROP TABLE tfa_totp;
