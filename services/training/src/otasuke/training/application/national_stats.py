"""Anonymised counts for the national view: mails sent, clicked and reported per closed campaign."""
from otasuke.events.streams import TRAINING
from otasuke.platform.national_stats import Count, NationalStatsPublisher


def _campaign_completed(env):
    data = env.data
    yield Count(metric="training_mails_sent", value=data.sent)
    yield Count(metric="training_mails_clicked", value=data.clicked)
    yield Count(metric="training_mails_reported", value=data.reported)


def publisher(runtime) -> NationalStatsPublisher:
    return NationalStatsPublisher(
        "training", TRAINING.name, {"training.campaign_completed": _campaign_completed}
    ).bind(runtime.js)
