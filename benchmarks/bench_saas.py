"""Throughput and memory of the SaaS connectors against their local protocol fakes.

    python benchmarks/bench_saas.py --rows 20000 [--rows 100000] [--vendors sap-v2,salesforce]
        [--repeat 3] [--json out.json]

Per vendor (harness ids of ``tests/saas/harness_*.py``) the fake serves ``standard_table(rows)``
from its own spawned process (no GIL shared with the client). Each repetition runs, each in a
fresh spawned process, ``connector`` (``registry.bind`` with ``page_size`` = the connector's
``max_page_size``, ``max_records`` = rows, ``sample(object, SampleSpec())`` drained into DuckDB
by ``CREATE TABLE t AS SELECT * FROM reader``; timed from ``bind``, so auth, describe and extra
calls count) and ``floor`` (the connector's first page request as the fake logged it — path,
query, headers with the token, body — replayed with a bare ``httpx.Client``, then the vendor's
cursor followed: ``nextRecordsUrl``, ``paging.next.after``, ``$skip`` + ``__count``,
``@odata.nextLink``, Odoo's ``id >`` keyset; bodies parsed by ``json.loads`` or
``xmlrpc.client.loads``, no typing, Arrow or retries). Medians of wall time, client CPU (user +
system, all threads), the fake's CPU per run, ratios connector / floor, records/s, and the
client's peak RSS (``VmHWM`` of the connector process, fresh after ``exec``) and its RSS after
the imports (``base``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENDORS = {"salesforce": "salesforce", "hubspot-pat": "hubspot", "sap-v2": "odata",
           "sap-v4": "odata", "dynamics": "odata", "odoo-xmlrpc": "odoo", "odoo-json2": "odoo"}
DROP_HEADERS = {"host", "content-length", "accept-encoding", "connection", "user-agent"}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _hwm_mb() -> float:
    """Peak RSS of this process (VmHWM: per address space, so not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


#: ``--latency``, read by the server process launcher.
LATENCY = [0.0]


def serve(hid: str, rows: int, conn: Any, latency: float = 0.0) -> None:
    """Server process: enter the harness, send its config, answer the parent's commands."""
    sys.path.insert(0, str(ROOT))
    import importlib

    from fakeservers.tables import standard_table

    mod = importlib.import_module(f"tests.saas.harness_{VENDORS[hid]}")
    h = next(h for h in mod.HARNESSES if h.id == hid)
    with h.serve(standard_table(rows)) as served:
        json.dumps(served.config)  # plain values only, or this fails loudly
        if latency:  # a WAN round trip per data page (the fake's "timeout" fault sleeps)
            served.app.faults.add("timeout", path=served.page_path, times=-1, delay=latency)
        conn.send({"config": served.config, "object": h.object_name, "url": served.server.url})
        while (cmd := conn.recv()) != "stop":
            if cmd == "clear":
                del served.app.log[:]
            elif cmd == "cpu":
                conn.send(_cpu())
            elif cmd == "first":
                r = served.app.requests_to(served.page_path)[0]
                conn.send({"method": r.method, "path": r.path, "query": r.query,
                           "headers": r.headers, "body": r.body})


def run_connector(cfg: dict[str, Any], obj: str, rows: int, sink: str, conn: Any) -> None:
    import duckdb

    from auditor import registry
    from auditor.models import SampleSpec

    page = registry.connector_class(cfg["kind"]).max_page_size  # type: ignore[attr-defined]
    db = duckdb.connect()
    base = _hwm_mb()
    t0, c0 = time.perf_counter(), _cpu()
    con = registry.bind("src", {**cfg, "page_size": page, "max_records": rows}, Path("."))
    sample = con.sample(obj, SampleSpec(), {})
    db.register("reader", sample.reader)
    if sink == "table":  # "count": drained without keeping the rows (RSS of the pull alone)
        db.execute("CREATE TABLE t AS SELECT * FROM reader")
    counted = db.execute(f"SELECT count(*) FROM {'t' if sink == 'table' else 'reader'}")
    n = counted.fetchone()[0]  # type: ignore[index]
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    con.close()
    conn.send({"wall": wall, "cpu": cpu, "rows": n, "page_size": page, "rss": _hwm_mb(),
               "base": base, "stopped": str(sample.stopped) if sample.stopped else None,
               "notes": sample.notes})


def _get(http: Any, path: str, params: Any = None) -> Any:
    r = http.get(path, params=params)
    r.raise_for_status()
    return json.loads(r.content)


def floor_salesforce(http: Any, req: dict[str, Any], total: int) -> tuple[int, int]:
    body, n, pages = _get(http, req["path"], req["query"]), 0, 0
    while True:
        n, pages = n + len(body["records"]), pages + 1
        if body.get("done", True):
            return n, pages
        body = _get(http, body["nextRecordsUrl"])


def floor_hubspot(http: Any, req: dict[str, Any], total: int) -> tuple[int, int]:
    params, n, pages = dict(req["query"]), 0, 0
    while True:
        body = _get(http, req["path"], params)
        n, pages = n + len(body["results"]), pages + 1
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return n, pages
        params["after"] = after


def floor_odata(http: Any, req: dict[str, Any], total: int) -> tuple[int, int]:
    from urllib.parse import urljoin

    path, params, n, pages = req["path"], dict(req["query"]), 0, 0
    while True:
        body = _get(http, path, params)
        d = body.get("d", body)
        n, pages = n + len(d["results"] if "d" in body else d["value"]), pages + 1
        link = d.get("__next") or d.get("@odata.nextLink")
        count = int(d.get("__count") or d.get("@odata.count") or 0)
        if link:
            path, params = urljoin(str(http.base_url).rstrip("/") + path, link), None
        elif params and "$top" in params and n < count:
            params["$skip"] = str(n)
        else:
            return n, pages


def floor_odoo(http: Any, req: dict[str, Any], total: int) -> tuple[int, int]:
    import xmlrpc.client

    xml = req["path"].startswith("/xmlrpc/")
    if xml:
        args, method = xmlrpc.client.loads(req["body"])
        args = list(args)
        domain, limit = args[5][0], args[6]["limit"]
    else:
        payload = json.loads(req["body"])
        domain, limit = payload["domain"], payload["limit"]
    n = pages = 0
    while True:
        if xml:
            body = xmlrpc.client.dumps(tuple(args), methodname=method).encode()
            recs = xmlrpc.client.loads(http.post(req["path"], content=body).content)[0][0]
        else:
            recs = json.loads(http.post(req["path"], content=json.dumps(payload)).content)
        n, pages = n + len(recs), pages + 1
        # like the connector: a short page or search_count's total ends the pull
        if len(recs) < limit or n >= total:
            return n, pages
        keyset = [["id", ">", recs[-1]["id"]], *domain]
        if xml:
            args[5] = [keyset]
        else:
            payload["domain"] = keyset


def run_floor(hid: str, url: str, req: dict[str, Any], rows: int, conn: Any) -> None:
    import httpx

    loop = {"salesforce": floor_salesforce, "hubspot": floor_hubspot, "odata": floor_odata,
            "odoo": floor_odoo}[VENDORS[hid]]
    headers = {k: v for k, v in req["headers"].items() if k.lower() not in DROP_HEADERS}
    base = _hwm_mb()
    t0, c0 = time.perf_counter(), _cpu()
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        n, pages = loop(http, req, rows)
    conn.send({"wall": time.perf_counter() - t0, "cpu": _cpu() - c0, "rows": n, "pages": pages,
               "rss": _hwm_mb(), "base": base})


def _child(ctx: Any, target: Any, *args: Any) -> dict[str, Any]:
    parent, child = ctx.Pipe()
    p = ctx.Process(target=target, args=(*args, child))
    p.start()
    child.close()
    try:
        return parent.recv()
    except EOFError:
        p.join()
        raise RuntimeError(f"{target.__name__} died (exit code {p.exitcode})") from None
    finally:
        p.join()


def bench(ctx: Any, hid: str, rows: int, repeat: int, sink: str) -> dict[str, Any]:
    srv, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(hid, rows, child, LATENCY[0]), daemon=True)
    server.start()
    info = srv.recv()
    runs: dict[str, list[dict[str, Any]]] = {"connector": [], "floor": []}
    try:
        for _ in range(repeat):
            srv.send("clear")
            for kind in ("connector", "floor"):
                srv.send("cpu")
                s0 = srv.recv()
                if kind == "connector":
                    r = _child(ctx, run_connector, info["config"], info["object"], rows, sink)
                    srv.send("first")
                    first = srv.recv()
                else:
                    r = _child(ctx, run_floor, hid, info["url"], first, rows)
                srv.send("cpu")
                r["server_cpu"] = srv.recv() - s0
                if r["rows"] != rows:
                    raise AssertionError(f"{hid} {kind}: {r['rows']} rows, expected {rows}")
                runs[kind].append(r)
    finally:
        srv.send("stop")
        server.join(10)
    con = runs["connector"]
    out = {"vendor": hid, "rows": rows, "sink": sink, "page_size": con[0]["page_size"],
           "pages": runs["floor"][0]["pages"], "stopped": con[0]["stopped"],
           "notes": con[0]["notes"]}
    for kind, key in ((k, x) for k in runs for x in ("wall", "cpu", "server_cpu", "rss", "base")):
        out[f"{kind}_{key}"] = statistics.median(r[key] for r in runs[kind])
    out["wall_ratio"] = out["connector_wall"] / out["floor_wall"]
    out["cpu_ratio"] = out["connector_cpu"] / out["floor_cpu"]
    out["records_per_s"] = rows / out["connector_wall"]
    out["floor_records_per_s"] = rows / out["floor_wall"]
    return out


CELLS = [("vendor", "{vendor}"), ("rows", "{rows:,}"), ("page", "{page_size:,}"),
         ("pages", "{pages}"), ("connector s", "{connector_wall:.2f}"),
         ("floor s", "{floor_wall:.2f}"), ("wall ratio", "{wall_ratio:.2f}x"),
         ("client CPU s conn / floor", "{connector_cpu:.2f} / {floor_cpu:.2f}"),
         ("CPU ratio", "{cpu_ratio:.2f}x"),
         ("server CPU s conn / floor", "{connector_server_cpu:.2f} / {floor_server_cpu:.2f}"),
         ("records/s", "{records_per_s:,.0f}"),
         ("peak RSS MB (base)", "{connector_rss:.0f} ({connector_base:.0f})")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, action="append", help="rows served (repeatable)")
    ap.add_argument("--vendors", default=",".join(VENDORS), help="comma-separated harness ids")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sink", choices=("table", "count"), default="table",
                    help="CREATE TABLE from the reader, or only count its rows")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--latency", type=float, default=0.0,
                    help="seconds the fake waits before each data page (a WAN round trip)")
    args = ap.parse_args()
    LATENCY[0] = args.latency
    ctx = mp.get_context("spawn")
    results, failures = [], []
    for rows in args.rows or [20_000]:
        for hid in args.vendors.split(","):
            if hid not in VENDORS:
                ap.error(f"unknown vendor {hid!r}; known: {', '.join(VENDORS)}")
            try:
                results.append(bench(ctx, hid, rows, args.repeat, args.sink))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
            except Exception as exc:  # noqa: BLE001 - report every vendor, then fail
                failures.append({"vendor": hid, "rows": rows, "error": repr(exc)})
                print(f"FAILED {hid} at {rows} rows: {exc!r}", file=sys.stderr, flush=True)
    print("| " + " | ".join(t for t, _ in CELLS) + " |\n|---|" + "---:|" * (len(CELLS) - 1))
    for r in results:
        print("| " + " | ".join(fmt.format(**r) for _, fmt in CELLS) + " |")
    for r in results:
        if r["stopped"] or r["notes"]:
            print(f"{r['vendor']}: stopped={r['stopped']} notes={r['notes']}")
    for f in failures:
        print(f"FAILED {f['vendor']} ({f['rows']:,} rows): {f['error']}")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "failures": failures}, indent=1))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
