DROP TABLE tfa_flashes;
