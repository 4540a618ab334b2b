"""SaaS fees: the platform's plans and each agency's plan, charged to the agency's Stripe
balance (invoicing's ``saas_fees`` collects what they bill).

Rooms as in a service: ``api``, ``schemas``, ``service`` (with their pending records'
sweeps), ``stripe_gateway``, ``repository``, ``models``, ``errors``. From subscriptions it
uses only ``repository`` (the agency replica) and ``models`` (the schema's base and pending
records); only subscriptions' ``app`` and ``consumers`` use it (``tests/test_architecture.py``).
"""
