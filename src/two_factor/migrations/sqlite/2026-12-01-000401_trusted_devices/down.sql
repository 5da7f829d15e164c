DROP TABLE tfa_trusted_devices;
