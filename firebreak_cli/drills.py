"""``firebreak drill``: run a registered drill with its progress on screen, then the scorecard.

The drill itself runs in this process (it injects a real fault, runs the real response,
answers the approval as the on-call would); a background thread follows the incident's
timeline in the record and prints each step as it is committed. The Prefect API is reached
(and, in ephemeral mode, started) before the fault goes in, so the scorecard's time to
detect measures detection, not Prefect's start-up.
"""

from __future__ import annotations

import threading
import time

from prefect.client.orchestration import get_client
from rich.markup import escape
from rich.table import Table

from firebreak_cli import fault_drills
from firebreak_cli.console import ExitCode, fail, out
from firebreak_cli.settings import FirebreakSettings
from incident.record import IncidentRecord
from sandbox.drill_registry import DRILLS, DrillSpec, Scorecard, drill_spec

__all__ = ["follow_timeline", "list_drills", "run_drill"]


def list_drills() -> None:
    table = Table(title="drills", title_justify="left")
    for column in ("scenario", "fault", "response", "what it rehearses"):
        table.add_column(column)
    for spec in DRILLS.values():
        table.add_row(spec.scenario, spec.injector, "yes" if spec.runner else "not yet", spec.title)
    out.print(table)


class follow_timeline(threading.Thread):  # used like a context manager
    """Print every timeline event of the new incidents of ``scenario`` as it is committed."""

    def __init__(self, record: IncidentRecord, scenario: str, interval: float = 0.5) -> None:
        super().__init__(daemon=True, name="drill-progress")
        self._record, self._scenario, self._interval = record, scenario, interval
        self._before = {r["id"] for r in record.incidents(scenario=scenario)}
        self._finish = threading.Event()
        self.printed = 0

    def run(self) -> None:
        seen: dict[str, int] = {}
        while True:
            stopping = self._finish.is_set()
            for incident in self._record.incidents(scenario=self._scenario):
                if incident["id"] in self._before:
                    continue
                for event in self._record.timeline(incident["id"]):
                    if (event.seq or 0) <= seen.get(incident["id"], 0):
                        continue
                    seen[incident["id"]] = event.seq or 0
                    self.printed += 1
                    out.print(
                        f"[dim]{event.at:%H:%M:%S}[/] {incident['id']} "
                        f"[bold]{event.phase}/{event.step}[/] {event.status}: "
                        f"{escape(event.message)}"
                    )
            if stopping:
                return
            self._finish.wait(self._interval)

    def __enter__(self) -> follow_timeline:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish.set()
        self.join(timeout=10)


def _scorecard(report: Scorecard) -> Table:
    table = Table(title=f"scorecard — incident {report.incident_id}, run {report.state}")
    table.add_column("check")
    table.add_column("result")
    for name, ok in report.checks.items():
        table.add_row(escape(name), "[green]PASS[/]" if ok else "[bold red]FAIL[/]")
    for name, seconds in report.metrics.items():
        table.add_row(name.replace("_", " "), "-" if seconds is None else f"{seconds:.1f} s")
    return table


def run_drill(
    settings: FirebreakSettings, scenario: str, *, inject_only: bool = False, hold: float = 30
) -> ExitCode:
    spec: DrillSpec = drill_spec(scenario)
    if inject_only:
        return fault_drills.inject_only(settings, spec, hold)
    runner = spec.load_runner()
    targets = fault_drills.drill_targets(settings)
    fault_drills.require_cluster(spec, targets)
    fault_drills.sweep(settings, spec)  # what killed drills left behind goes first
    admin = settings.admin_dsn.get_secret_value()
    with settings.prefect():
        started = time.monotonic()
        with get_client(sync_client=True) as client:
            if (problem := client.api_healthcheck()) is not None:
                fail(f"the Prefect API is not healthy ({type(problem).__name__})")
        out.print(f"Prefect API ready in {time.monotonic() - started:.1f} s; injecting the fault")
        record = IncidentRecord(admin, spec.record_schema)
        try:
            with follow_timeline(record, spec.responder):
                report = runner(admin, targets)
        finally:
            record.close()
    out.print(_scorecard(report))
    verdict = "[bold green]PASSED[/]" if report.passed else "[bold red]FAILED[/]"
    out.print(f"score {sum(report.checks.values())}/{len(report.checks)}: {verdict}")
    return ExitCode.OK if report.passed else ExitCode.FAILED
