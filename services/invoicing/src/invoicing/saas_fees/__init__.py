"""SaaS fees: the platform collecting its plans from agencies' Stripe balances.

The platform's own invoices charged to an agency's connected account become collections
(``service``), a failed one can be retried by hand (``service.retries``: a saga of committed
steps that pauses the agency's payouts until the balance can pay), and an agency owner is told
how its payout schedule may starve the charge (``rules``). Rooms as in a service: ``api``,
``schemas``, ``service`` (a package: the collections, and the retries' runner in
``service.retries``), ``rules``, ``stripe_gateway`` (Stripe), ``repository``, ``models``,
``errors``. From invoicing it uses only ``repository`` and ``models``; only invoicing's
``app``, ``consumers`` and ``cli`` use it (``tests/test_architecture.py``).
"""
