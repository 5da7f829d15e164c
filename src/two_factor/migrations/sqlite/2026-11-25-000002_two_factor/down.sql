DROP TABLE tfa_audit;
DROP TABLE tfa_state;
DROP TABLE tfa_counters;
DROP TABLE tfa_challenges;
DROP TABLE tfa_phones;
