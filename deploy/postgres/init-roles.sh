#!/bin/sh
# Postgres container initialisation (docker-entrypoint-initdb.d, first start of an empty
# volume): roles.sql with each service role's password from the container's environment.
set -eu
psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set catalog_password="$CATALOG_DB_PASSWORD" \
  --set subscriptions_password="$SUBSCRIPTIONS_DB_PASSWORD" \
  --set invoicing_password="$INVOICING_DB_PASSWORD" \
  --set webhook_ingest_password="$WEBHOOK_INGEST_DB_PASSWORD" \
  --set revenue_password="$REVENUE_DB_PASSWORD" \
  --file "${ROLES_SQL:-/billing/roles.sql}"
