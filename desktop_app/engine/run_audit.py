"""A training run's entries in the workspace audit log.

What went in (each data file with its hash and counts, the personal-data decision, the
records left out) is written before training starts; the run's start and its ending
(finished, failed, cancelled) follow from the engine's own events, so the command line,
the window and the tests all leave the same trail.
"""

from __future__ import annotations

from typing import Any

from desktop_app.core.audit import AuditError, config_hash, record
from desktop_app.core.events import Event, RunCancelled, RunFailed, RunFinished, RunStarted
from desktop_app.core.run_folder import RunFolder

#: At most this many excluded records are listed one by one in an audit entry; the
#: run's manifest lists them all.
LISTED_EXCLUSIONS = 200


def audit_run_inputs(
    folder: RunFolder, data_record: dict[str, Any], *, resumed: bool = False
) -> None:
    """Record the data a run reads: one ``dataset_imported`` entry per file, the
    personal-data decision, and the records left out.

    Args:
        folder: The run folder (its manifest holds the data files' hashes).
        data_record: ``PreparedData.record``.
        resumed: Whether the run is being resumed (the data is read again).

    Raises:
        AuditError: the audit log cannot be written (the run must not start unrecorded).
    """
    run = str(folder.path)
    hashes = folder.read_manifest().get("data_files", {})
    for entry in data_record["files"]:
        digest = hashes.get(entry["path"], {})  # the manifest hashed every data file
        record(
            "dataset_imported",
            {
                "path": entry["path"],
                "sha256": digest.get("sha256"),
                "bytes": digest.get("bytes"),
                "role": entry["role"],
                "format": entry["format"],
                "records_read": entry["records_read"],
                "records_used": entry["records_used"],
                "records_excluded": len(entry["excluded"]),
                "resumed": resumed,
            },
            run=run,
        )
    personal = data_record["personal_data"]
    record(
        "pii_decision",
        {
            "redaction": personal["redaction"],
            "values_found": personal["values_found"],
            "records_with_personal_data": personal["records_with_personal_data"],
            "identical_after_redaction": len(personal.get("identical_after_redaction", [])),
        },
        run=run,
    )
    excluded = [
        {"file": entry["path"], **item}
        for entry in data_record["files"]
        for item in entry["excluded"]
    ]
    if excluded:
        record(
            "rows_excluded",
            {
                "count": len(excluded),
                "reason": "invalid records left out (data.exclude_invalid)",
                "records": excluded[:LISTED_EXCLUSIONS],
                "listed": min(len(excluded), LISTED_EXCLUSIONS),
            },
            run=run,
        )


class AuditReporter:
    """A reporter that writes a run's start and ending into the audit log.

    A failure to record the start raises :class:`AuditError` (the run stops before
    training); a failure to record the ending is kept in :attr:`failure` so the run's
    own result still reaches the user, with a warning.
    """

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self.failure: AuditError | None = None

    def report(self, event: Event) -> None:
        run = str(self.folder.path)
        if isinstance(event, RunStarted):
            record(
                "run_started",
                {
                    "config_sha256": config_hash(event.config),
                    "method": event.method,
                    "device": event.device,
                    "train_records": event.train_records,
                    "validation_records": event.validation_records,
                    "total_steps": event.total_steps,
                    "resumed_from_step": event.resumed_from_step,
                },
                run=run,
            )
            return
        ending = _ending_entry(event)
        if ending is None:
            return
        try:
            record(*ending, run=run)
        except AuditError as error:
            self.failure = error


def _ending_entry(event: Event) -> tuple[str, dict[str, Any]] | None:
    if isinstance(event, RunFinished):
        return "run_finished", {"metrics": event.metrics, "output_path": event.output_path}
    if isinstance(event, RunCancelled):
        return "run_cancelled", {"step": event.step, "checkpoint": event.checkpoint}
    if isinstance(event, RunFailed):
        return "run_failed", {"message": event.message}
    return None
