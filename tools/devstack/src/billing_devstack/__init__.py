"""The billing stack on one machine: embedded Postgres, the Tansu broker, the Stripe
emulator and the five services, for ``make run`` (``billing-stack run``) and the tests.

Library API (see :mod:`billing_devstack.stack`)::

    with Stack(state_dir, pg_port=None, broker_port=None) as stack:   # free ports
        infra = stack.infra        # database_url, kafka_bootstrap, stripe_api_base
        stack.start_service("catalog", {"CATALOG_PORT": "18101"})
        stack.restart_broker(down_for=2)
"""

from billing_devstack.broker import kafka_ready
from billing_devstack.paths import default_state_dir, repo_root
from billing_devstack.processes import DevstackError, ManagedProcess, free_port, wait_healthy
from billing_devstack.services import SERVICES, ServiceSpec, service_env
from billing_devstack.stack import Infra, Stack, infrastructure

__all__ = [
    "SERVICES",
    "DevstackError",
    "Infra",
    "ManagedProcess",
    "ServiceSpec",
    "Stack",
    "default_state_dir",
    "free_port",
    "infrastructure",
    "kafka_ready",
    "repo_root",
    "service_env",
    "wait_healthy",
]
