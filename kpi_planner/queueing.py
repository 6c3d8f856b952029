"""Sending Celery tasks from a request or a task without letting a broker outage fail it.

Everything that is sent through here is also recorded in the database before it is sent (a
tree's pending RollupChange rows, a Notification not yet e-mailed), and a beat sweep sends it
again if it was lost, so a failed send only delays the work. The request that committed the
data answers success.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# What a send raises when the broker cannot be reached: kombu wraps the transport's errors in
# OperationalError; a refused or reset socket can also surface as an OSError.
BROKER_ERRORS = (OperationalError, OSError)


def send(task: Any, *args: Any) -> bool:
    """`task.delay(*args)`; False (logged, not raised) when the broker is unreachable."""
    try:
        task.delay(*args)
    except BROKER_ERRORS as exc:
        logger.warning("broker unreachable, %s%r left for the sweep: %s", task.name, args, exc)
        return False
    return True
