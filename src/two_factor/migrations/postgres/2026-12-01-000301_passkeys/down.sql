DROP TABLE tfa_webauthn_ceremonies;
DROP TABLE tfa_passkeys;
