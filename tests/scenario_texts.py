"""Scenario files the tests write: short, so each run stays quick."""

from __future__ import annotations

#: The leaking service alone, on two hosts: an estate a twelfth the size of the default one
#: (four services in three regions), for tests whose assertions are about one incident.
LEAKING_SERVICE_ONLY = """
[topology]
services = ["payment-service"]
regions = ["us-east-1"]
hosts_per_region = 2
"""


def quick_leak(name: str, *, topology: str = "", duration: str = "30m") -> str:
    """A memory leak on payment-service in us-east-1: 45 min of history, 30 min played.

    The incident opens on the first detection pass and is resolved about a minute later;
    a run then goes on for five quiet minutes (`headless.QUIET_S`) before it stops early,
    unless `duration` ends it first.

    Args:
        name: the scenario's name.
        topology: a `[topology]` table (such as `LEAKING_SERVICE_ONLY`); "" keeps the
            simulator's default estate.
        duration: how long the scenario plays at most.
    """
    return f"""
name = "{name}"
description = "payment-service in us-east-1 leaks memory."
seed = 7
start = 2026-11-25T14:00:00Z
history = "45m"
duration = "{duration}"
{topology}
[[faults]]
kind = "memory_leak"
service = "payment-service"
region = "us-east-1"
start = "-20m"
params = {{ rate = 0.9 }}

[[expected.incidents]]
kind = "memory_leak"
service = "payment-service"
region = "us-east-1"
root_cause = "memory_leak"
actions = ["restart"]
"""


#: One service on two hosts with a steady leak: the cheapest incident a run can record.
SHORT_LEAK = """\
name = "short-leak"
description = "One host group leaks memory: a short run."
seed = 7
start = 2026-11-25T14:00:00Z
history = "40m"
duration = "15m"

[topology]
services = ["payment-service"]
regions = ["us-east-1"]
hosts_per_region = 2

[[faults]]
kind = "memory_leak"
service = "payment-service"
region = "us-east-1"
start = "-25m"

[faults.params]
rate = 0.8

[[expected.incidents]]
kind = "memory_leak"
service = "payment-service"
region = "us-east-1"
root_cause = "memory_leak"
actions = ["restart"]
detect_within = "10m"
"""
