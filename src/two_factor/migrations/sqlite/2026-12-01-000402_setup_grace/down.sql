DROP TABLE tfa_setup_grace;
