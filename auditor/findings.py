"""Dataset-level findings with stable codes.

Findings are data, not exceptions: something a person must act on, with where it is and how to
fix it. Codes are stable; the README lists them. Use-case-level problems are score checks
(``auditor.score``), and their blockers are reported with the verdict.

| code   | severity | meaning                                                    |
|--------|----------|------------------------------------------------------------|
| SRC001 | critical | source unreachable (missing file, refused login, timeout)  |
| SRC002 | critical | source content unreadable (corrupt file, too many bad rows)|
| SRC003 | critical | object named in config does not exist in the source        |
| SRC004 | critical | source refused the credentials (after one re-authentication)|
| SRC005 | critical | API request quota exhausted: the source stopped for the run |
| SRC006 | major    | sample incomplete: paging stopped early (rows kept)        |
| CFG001 | critical | a column the use case declares does not exist              |
| DQ001  | major    | rows rejected while reading (malformed lines)              |
| DQ002  | major    | duplicate or null values in the declared key               |
| DQ003  | major    | near-duplicate entities (spelling variants)                |
| DQ004  | by GX    | a GX expectation failed (critical/major/info by severity)  |
| DQ005  | minor    | exact duplicate rows                                       |
| DQ006  | major    | an expectation could not run (missing column, bad regex)   |
| DQ007  | major    | foreign key values with no match in the referenced dataset |
| DQ008  | major    | values not of the type the source declares (loaded as null)|
| PII001 | info     | a column holds PII (with the reason)                       |
| PII002 | major    | free text embeds PII (e-mails, phones, IBANs ...)          |
| GOV001 | critical | dataset has no owner                                       |
"""

from __future__ import annotations

from auditor.errors import SourceError
from auditor.measure import JoinMeasure
from auditor.models import DatasetResult, Finding

_GX_SEVERITY = {"critical": "critical", "warning": "major", "info": "info"}


def source_failure_finding(dataset: str, source: str, exc: SourceError) -> Finding:
    return Finding(code=exc.code if exc.code != "SRC000" else "SRC001", severity="critical",
                   message=f"source {source!r} failed for dataset {dataset}: {exc}",
                   dataset=dataset, source=source, hint=exc.hint)


def missing_column_finding(use_case: str, ref: str, where: str) -> Finding:
    return Finding(code="CFG001", severity="critical",
                   message=f"{where}: use case {use_case!r} declares {ref!r}, which does not "
                           "exist in the loaded data",
                   column=ref, hint="fix the column name, or restore the column at the source")


def orphan_finding(dataset: str, column: str, target: str, join: JoinMeasure) -> Finding | None:
    orphans = join.child_rows - join.matched - join.null_children
    if orphans <= 0:
        return None
    return Finding("DQ007", "major",
                   f"{orphans} of {join.child_rows} rows have a {column} with no match in "
                   f"{target} ({1 - join.match_share:.1%} unmatched incl. {join.null_children} "
                   f"null); e.g. {', '.join(join.orphan_examples)}",
                   dataset=dataset, column=column,
                   hint=f"create the missing {target} records or correct {column}",
                   detail={"orphans": orphans, "null": join.null_children,
                           "rows": join.child_rows, "target": target,
                           "examples": list(join.orphan_examples)})


def dataset_findings(d: DatasetResult) -> list[Finding]:
    out: list[Finding] = []
    if d.stopped:
        st = d.stopped
        where = f"; the next page was cursor {st.next_cursor!r}" if st.next_cursor else ""
        out.append(Finding("SRC006", "major",
                           f"sample of {d.object} is incomplete: paging stopped after "
                           f"{st.rows} rows in {st.pages} pages{where}: {st.reason}",
                           dataset=d.name, source=d.source,
                           hint="the rows pulled were audited; re-run when the source "
                           "recovers for a full sample",
                           detail={"rows": st.rows, "pages": st.pages,
                                   "next_cursor": st.next_cursor, "reason": st.reason}))
    for col, n in sorted(d.unparsed.items()):
        out.append(Finding("DQ008", "major", f"{n} values of {col} are not of the type "
                           f"{d.source} declares for it and were loaded as null",
                           dataset=d.name, source=d.source, column=col,
                           hint="correct the values at the source (an import bypassed the "
                           "field type)", detail={"values": n}))
    if d.rejected_rows:
        out.append(Finding("DQ001", "major", f"{d.rejected_rows} rows of {d.object} could not "
                           "be read and were rejected (see rejected_rows in the store)",
                           dataset=d.name, source=d.source,
                           hint="fix the malformed lines at the source export"))
    p = d.profile
    if p and p.key_columns and ((p.duplicate_keys or 0) + (p.null_keys or 0)) > 0:
        out.append(Finding("DQ002", "major",
                           f"key ({', '.join(p.key_columns)}) has {p.duplicate_keys} duplicate "
                           f"and {p.null_keys} null rows out of {p.rows}",
                           dataset=d.name, hint="deduplicate on the key at the source",
                           detail={"duplicate_keys": p.duplicate_keys, "null_keys": p.null_keys}))
    if p and p.duplicate_rows:
        out.append(Finding("DQ005", "minor", f"{p.duplicate_rows} exact duplicate rows",
                           dataset=d.name, hint="remove repeated exports of the same record",
                           detail={"duplicate_rows": p.duplicate_rows}))
    nd = d.near_duplicates
    if nd and nd.extra_rows:
        eg = "; ".join(" ~ ".join(v) for v in nd.examples[:3])
        out.append(Finding("DQ003", "major",
                           f"{nd.extra_rows} near-duplicate rows in {nd.groups} groups on "
                           f"({', '.join(nd.columns)}), e.g. {eg}", dataset=d.name,
                           hint="merge spelling variants under one id",
                           detail={"extra_rows": nd.extra_rows, "groups": nd.groups,
                                   "examples": [list(v) for v in nd.examples]}))
    for o in d.expectations:
        if o.error:
            out.append(Finding("DQ006", "major", f"{o.expectation_type} could not run: "
                               f"{o.error}", dataset=d.name, column=o.column,
                               hint=f"fix suite {o.suite!r}"))
        elif o.success is False:
            pct = f" ({o.unexpected_percent:.1f}%)" if o.unexpected_percent is not None else ""
            eg = f"; e.g. {', '.join(o.examples[:3])}" if o.examples else ""
            obs = f"; observed {o.observed_value}" if o.observed_value is not None else ""
            out.append(Finding(
                "DQ004", _GX_SEVERITY.get(o.severity, "major"),  # type: ignore[arg-type]
                f"{o.expectation_type} failed: {o.unexpected_count} unexpected of "
                f"{o.element_count}{pct}{obs}{eg}", dataset=d.name, column=o.column,
                hint=(o.meta or {}).get("rationale"),
                detail={"suite": o.suite, "kwargs": o.kwargs,
                        "unexpected_count": o.unexpected_count,
                        "element_count": o.element_count, "check_id": o.meta.get("check_id")}))
    for col, pii in d.pii.items():
        if pii.free_text:
            out.append(Finding("PII002", "major", f"free text embeds PII: {pii.reason}",
                               dataset=d.name, column=col,
                               hint="redact before the text is used by a model",
                               detail={"kinds": list(pii.kinds), "share": pii.share}))
        else:
            out.append(Finding("PII001", "info", f"PII column: {pii.reason}", dataset=d.name,
                               column=col, detail={"kinds": list(pii.kinds)}))
    if d.status == "ok" and not d.owner:
        out.append(Finding("GOV001", "critical", "dataset has no owner", dataset=d.name,
                           hint="set `owner:` for the dataset in audit.yml"))
    return out
