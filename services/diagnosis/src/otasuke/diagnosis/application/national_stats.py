"""Anonymised counts for the national view: how many diagnoses ended in each band."""
from otasuke.events.streams import DIAGNOSIS
from otasuke.platform.national_stats import Count, NationalStatsPublisher


def _completed(env):
    yield Count(metric="diagnosis_completed", labels={"band": env.data.band})


def publisher(runtime) -> NationalStatsPublisher:
    return NationalStatsPublisher("diagnosis", DIAGNOSIS.name, {"diagnosis.completed": _completed}).bind(runtime.js)
