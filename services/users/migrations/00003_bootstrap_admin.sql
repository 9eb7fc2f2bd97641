-- +goose Up
-- The first platform admin comes from BOOTSTRAP_ADMIN_EMAILS, once ever: the row is the proof it
-- happened, so a listed address registered later (or again, after an erasure) is an ordinary member.
CREATE TABLE bootstrap_admin (
    id         int         PRIMARY KEY CHECK (id = 1),
    user_id    uuid        NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now()
);
-- A platform that already has an admin has had its bootstrap.
INSERT INTO bootstrap_admin (id, user_id)
SELECT 1, id FROM users WHERE 'admin' = ANY (roles) AND erased_at IS NULL ORDER BY created_at LIMIT 1;
