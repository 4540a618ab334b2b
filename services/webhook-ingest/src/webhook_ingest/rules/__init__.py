"""The webhook-ingest rules: pure functions, no I/O.

``verification`` checks a request is a Stripe event signed with one of our secrets and parses
it; ``normalize`` turns a Stripe event into its contract event (or none), with ``snapshots``
picking the fields of each Stripe object kind that consumers need.
"""
