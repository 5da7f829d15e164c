-- What the last POST on a sign-in's code pages said ("That code is not
-- right. 3 attempts left."), kept for the page its redirect leads to
-- (POST, redirect, GET), keyed by the browser session, read once.
CREATE TABLE tfa_flashes (
    session_key TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
