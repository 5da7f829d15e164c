CREATE TABLE tfa_state (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
DROP TABLE tfa_gateway_errors;
DROP TABLE tfa_notices;
DROP TABLE tfa_page_notes;
DROP TABLE tfa_code_holders;
