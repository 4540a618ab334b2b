"""Generate the AsyncAPI 3.0 document of every topic from the event models: its channels (and
their ``.dlq``), who sends and who receives them (``billing_contracts.routing``), the servers.

``python -m billing_contracts.asyncapi`` prints it; ``--write`` refreshes the committed copy
(``libs/contracts/asyncapi.json``), which a test keeps in step with the code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from billing_contracts.registry import ALL_TOPICS, REQUEST_CHANNELS
from billing_contracts.routing import PUBLICATIONS, SUBSCRIPTIONS
from billing_contracts.topics import RequestChannel

COMMITTED = Path(__file__).resolve().parents[2] / "asyncapi.json"


def build_document() -> dict[str, Any]:
    models: list[type[BaseModel]] = [event for topic in ALL_TOPICS for event in topic.events]
    for exchange in REQUEST_CHANNELS:
        models += [exchange.request, exchange.reply]
    _, defs = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        channel_id = topic.name.replace(".", "_")
        channel_messages: dict[str, Any] = {}
        for event in topic.events:
            event_type = event.model_fields["type"].default
            messages[event.__name__] = {
                "name": event_type,
                "title": event.__name__,
                "summary": (event.__doc__ or "").strip().splitlines()[0] if event.__doc__ else "",
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
                "payload": {"$ref": f"#/components/schemas/{event.__name__}"},
            }
            channel_messages[event.__name__] = {"$ref": f"#/components/messages/{event.__name__}"}
        channels[channel_id] = {
            "address": topic.name,
            "description": topic.description,
            "messages": channel_messages,
            "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
            **({"tags": [{"name": "public"}]} if topic.public else {}),
        }
        channels[f"{channel_id}_dlq"] = {
            "address": topic.dlq,
            "description": (
                f"Messages of {topic.name} that a consumer could not apply after its attempts, "
                "as they were received, with why (headers); an operator re-drives them to "
                f"{topic.name} (`python -m <service> dlq redrive --topic {topic.name}`)."
            ),
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
        }
    for service, topics in PUBLICATIONS.items():
        for topic in topics:
            channel_id = topic.name.replace(".", "_")
            operations[f"{service}_sends_{channel_id}"] = {
                "action": "send",
                "title": f"{service} publishes {topic.name}",
                "summary": f"{service}'s outbox relay publishes these events.",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "tags": [{"name": service}],
            }
    for subscription in SUBSCRIPTIONS:
        channel_id = subscription.topic.name.replace(".", "_")
        prefix = f"{subscription.service}_{subscription.consumer}"
        group = {"type": "string", "enum": [subscription.group]}
        operations[f"{prefix}_receives_{channel_id}"] = {
            "action": "receive",
            "title": f"{subscription.name} consumes {subscription.topic.name}",
            "summary": (
                f"Applied once per event (inbox) by {subscription.service}; read by its "
                f"consumer group `{subscription.group}`, as every topic it consumes."
            ),
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "tags": [{"name": subscription.service}],
            "bindings": {"kafka": {"groupId": group, "bindingVersion": "0.5.0"}},
        }
        operations[f"{prefix}_dead_letters_{channel_id}"] = {
            "action": "send",
            "title": f"{subscription.name} dead-letters {subscription.topic.name}",
            "summary": "Messages this consumer gave up on.",
            "channel": {"$ref": f"#/channels/{channel_id}_dlq"},
            "tags": [{"name": subscription.service}],
        }
    for exchange in REQUEST_CHANNELS:
        _add_request_channel(exchange, channels, operations, messages)
    schemas = dict(sorted(defs["$defs"].items()))
    schemas["KafkaHeaders"] = {
        "type": "object",
        "description": "Kafka record headers; the record key is the aggregate id.",
        "properties": {
            "event_id": {"type": "string", "format": "uuid"},
            "event_type": {"type": "string"},
            "correlation_id": {"type": "string"},
            "traceparent": {
                "type": "string",
                "description": "W3C trace context of the request that wrote the event.",
            },
        },
    }
    schemas["DeadLetterHeaders"] = {
        "type": "object",
        "description": "The original record's headers, and why it was given up on.",
        "properties": {
            "x-original-topic": {"type": "string"},
            "x-consumer": {
                "type": "string",
                "description": "The consumer that failed (`<service>.<consumer>`).",
            },
            "x-attempts": {"type": "string", "description": "Attempts made (decimal)."},
            "x-error-type": {"type": "string"},
            "x-error": {"type": "string"},
            "x-error-trace": {"type": "string"},
        },
    }
    messages["DeadLetter"] = {
        "name": "dead_letter",
        "title": "DeadLetter",
        "summary": "The message as it was received (it may not decode), with its error.",
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {},
    }
    schemas["RequestHeaders"] = {
        "type": "object",
        "description": "Kafka record headers of a request; the reply carries the same "
        "correlation_id and goes to the topic reply_to names.",
        "properties": {
            "reply_to": {"type": "string"},
            "correlation_id": {"type": "string"},
        },
        "required": ["reply_to", "correlation_id"],
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Billing platform events",
            "version": "1.0.0",
            "description": (
                "Events exchanged by the billing services over Kafka. Every message is a JSON "
                "envelope (event_id, type, version, occurred_at, agency_id, workspace_id, "
                "correlation_id, causation_id, payload); the record key is the aggregate id, so "
                "one entity's events stay ordered. Within a topic version producers only add "
                "optional fields; consumers must ignore fields they do not know."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "embedded": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": (
                    "The development broker of `make run` and the tests (Tansu): one replica, "
                    "no idempotent producer."
                ),
            },
            "production": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": (
                    "Apache Kafka (KAFKA_BOOTSTRAP_SERVERS); topics are created with "
                    "KAFKA_REPLICATION_FACTOR replicas (3) and KAFKA_MIN_INSYNC_REPLICAS (2), "
                    "written by idempotent producers with acks=all."
                ),
                "variables": {"bootstrap": {"default": "kafka:9092"}},
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _message(model: type[BaseModel], headers: str) -> dict[str, Any]:
    return {
        "name": model.__name__,
        "title": model.__name__,
        "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
        "contentType": "application/json",
        "headers": {"$ref": f"#/components/schemas/{headers}"},
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
    }


def _add_request_channel(
    exchange: RequestChannel,
    channels: dict[str, Any],
    operations: dict[str, Any],
    messages: dict[str, Any],
) -> None:
    """A request channel, one channel per reply topic, and the request operation whose reply
    address is the request's ``reply_to`` header."""
    request, reply = exchange.request.__name__, exchange.reply.__name__
    messages[request] = _message(exchange.request, "RequestHeaders")
    messages[reply] = _message(exchange.reply, "KafkaHeaders")
    channel_id = _channel_id(exchange.name)
    channels[channel_id] = {
        "address": exchange.name,
        "description": exchange.description,
        "messages": {request: {"$ref": f"#/components/messages/{request}"}},
        "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
    }
    for reply_topic in exchange.reply_topics:
        reply_id = _channel_id(reply_topic)
        channels[reply_id] = {
            "address": reply_topic,
            "description": f"Replies to {exchange.name}, read by every replica of the "
            "requester without a consumer group. Key: the request's key.",
            "messages": {reply: {"$ref": f"#/components/messages/{reply}"}},
            "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
        }
        operations[f"request_{channel_id}_{reply_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{request}"}],
            "reply": {
                "address": {"location": "$message.header#/reply_to"},
                "channel": {"$ref": f"#/channels/{reply_id}"},
                "messages": [{"$ref": f"#/channels/{reply_id}/messages/{reply}"}],
            },
        }


def _channel_id(name: str) -> str:
    return name.replace(".", "_").replace("-", "_")


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {COMMITTED}")
    args = parser.parse_args()
    if args.write:
        COMMITTED.write_text(render())
    else:
        print(render(), end="")


if __name__ == "__main__":
    main()
