"""Constants of the webhook benchmark, shared by its parts (see `bench.webhooks`)."""

import sys

from bench.procs import ADMIN_USERNAME as ADMIN_USERNAME  # re-exported for the parts

DEFAULT_DB = "itsm_bench_webhooks"
DEFAULT_BROKER = "redis://127.0.0.1:6379/10"
DEFAULT_DEAD_BROKER = "redis://127.0.0.1:6390/0"
SERVICE_SLUG = "bench-webhooks"
GROUP_NAME = "Bench Webhooks Desk"
DRAIN_EVENT = "incident.commented"  # phase 1: the drain endpoint listens to this one only
OUTAGE_EVENT = "incident.created"  # phase 2: open_incident emits it once per incident
# Phase 1 subjects are not real incidents: ids far above any incident the run creates, so the
# outbox rows of the two phases can never be confused.
FAKE_ID_BASE = 1_000_000_000

TARGET_RATE = 300.0
TARGET_RATIO = 0.80
POLL_SECONDS = 0.25
SETTLE_SECONDS = 2.0  # after a drain: room for a duplicate delivery to show up at the receiver
RECEIVER_BOOT_TIMEOUT = 20
CREATE_TIMEOUT = 900  # one creation child; a hang guard only
LOG_TAIL = 200_000


def say(message: str) -> None:
    print(f"webhooks: {message}", file=sys.stderr, flush=True)
