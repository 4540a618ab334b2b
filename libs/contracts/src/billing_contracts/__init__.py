"""Event contracts of the billing platform: envelope, topics and event models.

One module per topic; import event models from their topic's module.
"""

from billing_contracts.envelope import Event, Payload
from billing_contracts.registry import ALL_TOPICS, topic_named
from billing_contracts.topics import Topic

__all__ = ["ALL_TOPICS", "Event", "Payload", "Topic", "topic_named"]
