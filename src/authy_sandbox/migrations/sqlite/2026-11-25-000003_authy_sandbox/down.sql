DROP TABLE sandbox_stats;
DROP TABLE sandbox_rate_limits;
DROP TABLE sandbox_verifications;
DROP TABLE sandbox_approvals;
DROP TABLE sandbox_outbox;
DROP TABLE sandbox_tokens;
DROP TABLE sandbox_users;
