-- Commands of the platform operator (creating organisations) keyed by their
-- Idempotency-Key before any organisation exists, so a retry replays the first
-- answer instead of failing with slug_taken. Not tenant data: no RLS; the
-- lookup by key is a named pre-tenant query in sqlc.yaml. The stored result never
-- holds the first admin key's secret.
CREATE TABLE platform_commands (
    id              text PRIMARY KEY,
    type            text NOT NULL,
    fingerprint     bytea NOT NULL,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    result          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT platform_commands_id_length CHECK (length(id) BETWEEN 1 AND 255)
);

GRANT SELECT, INSERT ON platform_commands TO vacancy_app;
