-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE projects (
    id          uuid        PRIMARY KEY,
    owner_id    uuid        NOT NULL,
    name        text        NOT NULL,
    slug        text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    visibility  text        NOT NULL CHECK (visibility IN ('private', 'internal', 'public')),
    tags        text[]      NOT NULL DEFAULT '{}',
    settings    jsonb       NOT NULL DEFAULT '{}',
    archived    boolean     NOT NULL DEFAULT false,
    version     bigint      NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
-- A slug is unique among one owner's projects.
CREATE UNIQUE INDEX projects_owner_slug ON projects (owner_id, slug);
-- Fuzzy name search: trigram similarity tolerates typos ("platfrom" finds "Platform").
CREATE INDEX projects_name_trgm ON projects USING gin (name gin_trgm_ops);

CREATE TABLE members (
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    added_at   timestamptz NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- +goose Down
DROP TABLE members;
DROP TABLE projects;
