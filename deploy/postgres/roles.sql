-- One database role per service, each able to use only its own schema (run once, as an
-- administrator, before the services start; then give each service its own DATABASE_URL).
-- Passwords come from your secret store: replace the :'..._password' psql variables, e.g.
--   psql -v catalog_password=... -v subscriptions_password=... ... -f roles.sql
\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', name, pw)
FROM (VALUES
    ('catalog', :'catalog_password'),
    ('subscriptions', :'subscriptions_password'),
    ('invoicing', :'invoicing_password'),
    ('webhook_ingest', :'webhook_ingest_password'),
    ('revenue', :'revenue_password')
) AS roles(name, pw)
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name)
\gexec

REVOKE ALL ON SCHEMA public FROM PUBLIC;

SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', name, name)
FROM unnest(ARRAY['catalog', 'subscriptions', 'invoicing', 'webhook_ingest', 'revenue']) AS name
\gexec

-- A role owns its schema (it runs its own migrations) and nothing else.
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', name)
FROM unnest(ARRAY['catalog', 'subscriptions', 'invoicing', 'webhook_ingest', 'revenue']) AS name
\gexec
