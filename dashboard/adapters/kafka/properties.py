"""The `[kafka]` settings checked by librdkafka itself when they are loaded.

confluent-kafka cannot list the properties librdkafka knows, and a copied list would drift
from the installed version; so the properties are given to a client that never connects (no
bootstrap servers, no logging) and librdkafka's own refusal is reported, naming the property.
Properties of the other client kind are accepted: librdkafka only warns about those.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from confluent_kafka import KafkaException, Producer

from dashboard.settings import KafkaValue, SettingsError

# Set by the tool itself for each client, or meaningless without a broker to connect to.
_LEFT_OUT = frozenset({"bootstrap.servers", "metadata.broker.list", "logger", "log_level"})


def check_properties(properties: Mapping[str, KafkaValue]) -> None:
    """Raise SettingsError naming the first `[kafka]` property librdkafka refuses."""
    if properties:
        _check(tuple(sorted((k, str(v)) for k, v in properties.items())))


@lru_cache(maxsize=8)
def _check(items: tuple[tuple[str, str], ...]) -> None:
    config: dict[str, str | int] = {k: v for k, v in items if k not in _LEFT_OUT}
    config["log_level"] = 0
    try:
        Producer(config)
    except KafkaException as exc:
        message = exc.args[0].str()
        # Only a property librdkafka does not know, or a value of the wrong form; what needs
        # the other properties (a CA file, SASL credentials) is said when a client is made.
        # librdkafka's message names the property and never repeats the value (a password).
        if "configuration property" in message:
            raise SettingsError(f"setting kafka: {message}") from None
