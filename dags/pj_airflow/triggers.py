"""`EmrStepTrigger`: waits in the triggerer for an EMR step to end, so no worker slot is held.

The Amazon provider's EmrStepSensorTrigger needs aiobotocore for its async client; this one
polls with the provider's EmrHook (boto3) in a thread per call, which keeps the event loop free
without a second AWS SDK. A person killing the deferred task (mark failed or success, clear)
cancels the step here; a timeout or a failed trigger cancels it when the task resumes to fail
(`SparkJobOperator.resume_execution`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from pj_airflow.launchers import TERMINAL, EmrLauncher

__all__ = ["EmrStepTrigger"]


class EmrStepTrigger(BaseTrigger):
    """Yield {"cluster_id", "step_id", "state"} once the step is COMPLETED, CANCELLED, FAILED or INTERRUPTED."""

    def __init__(self, *, cluster_id: str, step_id: str, aws_conn_id: str | None, poll_interval: float) -> None:
        super().__init__()
        self.cluster_id = cluster_id
        self.step_id = step_id
        self.aws_conn_id = aws_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"cluster_id": self.cluster_id, "step_id": self.step_id, "aws_conn_id": self.aws_conn_id,
                 "poll_interval": self.poll_interval})

    def launcher(self) -> EmrLauncher:
        launcher = EmrLauncher(cluster=self.cluster_id, aws_conn_id=self.aws_conn_id, poll_interval=self.poll_interval,
                               log=logging.getLogger(__name__))
        launcher.step_id = self.step_id
        return launcher

    async def run(self) -> AsyncIterator[TriggerEvent]:
        client = await asyncio.to_thread(lambda: self.launcher().client)
        last = None
        while True:
            step = await asyncio.to_thread(client.describe_step, ClusterId=self.cluster_id, StepId=self.step_id)
            state = step["Step"]["Status"]["State"]
            if state != last:
                self.log.info("step %s: %s", self.step_id, state)
                last = state
            if state in TERMINAL:
                yield TriggerEvent({"cluster_id": self.cluster_id, "step_id": self.step_id, "state": state})
                return
            await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        """A person ended the deferred task: cancel its step (EmrLauncher.kill logs how if it cannot)."""
        await asyncio.to_thread(self.launcher().kill)
