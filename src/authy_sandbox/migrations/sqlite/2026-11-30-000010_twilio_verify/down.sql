DROP TABLE sandbox_verify_numbers;
DROP TABLE sandbox_verify_sends;
DROP TABLE sandbox_verify_verifications;
