#!/bin/sh
# Container entry point: `<service>` migrates the service's schema, then serves it;
# `stripe-emulator` starts the emulator; anything else runs as given.
set -e
case "$1" in
  catalog|subscriptions|invoicing|revenue)
    python -m "$1" migrate
    exec python -m "$1" serve ;;
  webhook-ingest)
    python -m webhook_ingest migrate
    exec python -m webhook_ingest serve ;;
  stripe-emulator)
    exec stripe-emulator ;;
  *)
    exec "$@" ;;
esac
