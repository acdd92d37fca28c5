"""Exit codes: the contract with cron and CI. One pure function chooses them.

| code | name             | meaning                                                         |
|------|------------------|-----------------------------------------------------------------|
| 0    | OK               | audit ran; no use case blocked; every score ≥ --fail-under       |
| 1    | BELOW_THRESHOLD  | a use case is Not ready, or a score is below --fail-under        |
| 2    | USAGE            | bad arguments, config or suite file (nothing was written)        |
| 3    | SOURCE_ERROR     | at least one source failed; the partial report is still written  |
| 4    | INTERNAL         | a bug; rerun with --debug and report it                          |

A failed source outranks a low score: the verdicts of a partial run are not trustworthy.
"""

from __future__ import annotations

from enum import IntEnum

from auditor.models import AuditResult, Band


class ExitCode(IntEnum):
    OK = 0
    BELOW_THRESHOLD = 1
    USAGE = 2
    SOURCE_ERROR = 3
    INTERNAL = 4


def exit_code_for(result: AuditResult, fail_under: float | None = None) -> ExitCode:
    if result.failed_sources:
        return ExitCode.SOURCE_ERROR
    for uc in result.use_cases:
        if uc.band in (Band.NOT_READY_B, Band.NOT_READY_C):
            return ExitCode.BELOW_THRESHOLD
        if fail_under is not None and uc.score < fail_under:
            return ExitCode.BELOW_THRESHOLD
    return ExitCode.OK
