"""The device aggregate: a UTM appliance or EDR agent of one company."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from otasuke.events import Aggregate, Envelope
from otasuke.events.schemas.telemetry import DeviceRegistered

AGGREGATE_TYPE = "device"

SOURCE_KIND = {"suricata": "utm", "cef": "utm", "windows": "edr", "sysmon": "edr", "security": "edr"}


@dataclass(frozen=True)
class DeviceState:
    registered: bool = False
    kind: str | None = None
    hostname: str | None = None
    learning_until: datetime | None = None
    registered_at: datetime | None = None

    def learning(self, at: datetime) -> bool:
        """Event time decides (a replay judges the same); no learning when the period is empty."""
        lu = self.learning_until
        return lu is not None and at < lu and (self.registered_at is None or lu > self.registered_at)


def evolve(state: DeviceState, env: Envelope) -> DeviceState:
    data = env.data
    if isinstance(data, DeviceRegistered):
        return replace(state, registered=True, kind=data.kind, hostname=data.hostname, learning_until=data.learning_until,
                       registered_at=env.occurred_at)
    return state


DEVICE = Aggregate(DeviceState, evolve)


def register(state: DeviceState, command: DeviceRegistered) -> list:
    """Registering twice is a no-op: the first registration fixes the learning period."""
    return [] if state.registered else [command]
