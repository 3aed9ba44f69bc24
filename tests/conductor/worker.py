"""A Conductor worker written only against the official Conductor Python SDK (conductor-python),
configured only the standard way: CONDUCTOR_SERVER_URL, CONDUCTOR_AUTH_KEY, CONDUCTOR_AUTH_SECRET.

usage: worker.py CAPABILITY[,CAPABILITY...]

One worker per capability (task type). `draft_document` tasks behave like long-running work:
the first offer answers IN_PROGRESS with a callback after 1 s, and the task completes when it is
offered again (its `pollCount` says so). Every task writes a log line through the task context.
"""

import sys

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.context import TaskInProgress, get_task_context
from conductor.client.http.models.task import Task
from conductor.client.worker.worker import Worker

LONG_RUNNING = "draft_document"


def execute(task: Task):
    """Every capability's work; the SDK starts workers in fresh processes (spawn), so this is a
    module-level function and the capability is the task's type."""
    capability = task.task_def_name
    context = get_task_context()
    context.add_log(f"{capability} on {task.task_def_name}, poll {task.poll_count}")
    if capability == LONG_RUNNING and (task.poll_count or 0) < 2:
        return TaskInProgress(callback_after_seconds=1, output={"progress": 50})
    return {"summary": f"{capability} done by the Conductor SDK", "polls": task.poll_count,
            "title": task.input_data.get("title")}


def main() -> None:
    workers = [Worker(task_definition_name=c, execute_function=execute, poll_interval=50)
               for c in sys.argv[1].split(",")]
    with TaskHandler(workers=workers, configuration=Configuration(), scan_for_annotated_workers=False) as handler:
        handler.start_processes()
        handler.join_processes()


if __name__ == "__main__":
    main()
