-- The sandbox's Twilio Verify v2 API (src/authy_sandbox/twilio/).

-- One row per verification. The code is kept only as a hash salted with the
-- SID; a resend re-delivers the first message (message_id, in
-- sandbox_outbox, the sandbox's stand-in for the phone). status is pending,
-- approved, canceled, max_attempts_reached or expired; a pending row whose
-- expires_at has passed reads as expired. checks counts code checks.
CREATE TABLE sandbox_verify_verifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sid TEXT NOT NULL UNIQUE,
    service_sid TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    to_number TEXT NOT NULL,
    channel TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    message_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    checks INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
-- At most one pending verification per service and number.
CREATE UNIQUE INDEX sandbox_verify_verifications_pending
    ON sandbox_verify_verifications(service_sid, to_number) WHERE status = 'pending';
CREATE INDEX sandbox_verify_verifications_to
    ON sandbox_verify_verifications(service_sid, to_number, id);

-- Every send (first and resends): send_code_attempts, and the window the
-- five-sends-in-ten-minutes limit counts.
CREATE TABLE sandbox_verify_sends (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_sid TEXT NOT NULL UNIQUE,
    verification_id BIGINT NOT NULL REFERENCES sandbox_verify_verifications(id) ON DELETE CASCADE,
    service_sid TEXT NOT NULL,
    to_number TEXT NOT NULL,
    channel TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
CREATE INDEX sandbox_verify_sends_verification ON sandbox_verify_sends(verification_id, id);
CREATE INDEX sandbox_verify_sends_to ON sandbox_verify_sends(service_sid, to_number, sent_at);

-- One row per service and number, written first by every start: on
-- PostgreSQL its row lock queues concurrent starts for one number, so the
-- send limit and the one-pending rule are decided one request at a time.
CREATE TABLE sandbox_verify_numbers (
    service_sid TEXT NOT NULL,
    to_number TEXT NOT NULL,
    locked_at BIGINT NOT NULL,
    PRIMARY KEY (service_sid, to_number)
);
