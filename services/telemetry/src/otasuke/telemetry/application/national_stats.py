"""Anonymised counts for the national view: alerts raised per category and severity."""
from otasuke.events.streams import TELEMETRY
from otasuke.platform.national_stats import Count, NationalStatsPublisher


def _alert_raised(env):
    yield Count(metric="alerts_raised", labels={"category": env.data.category, "severity": env.data.severity})


def publisher(runtime) -> NationalStatsPublisher:
    return NationalStatsPublisher("telemetry", TELEMETRY.name, {"telemetry.alert_raised": _alert_raised}).bind(runtime.js)
