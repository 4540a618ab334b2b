"""`/v1` endpoints, one module per Stripe resource: parse parameters, call the rules, return
the object. Importing a module registers its routes in `stripe_emulator.routing`."""
