"""``python -m fakeservers``: the sample CRM/ERP files behind local SaaS APIs, for the demo.

    python -m fakeservers serve                      # until Ctrl-C
    python -m fakeservers run -- auditor audit sample_data/saas.yml

Each vendor fake serves the files of ``sample_data/`` over its own wire protocol on a fixed
port (``sample_data/saas.yml`` points at these), with the demo credentials documented in each
fake's module. Needs the ``demo`` extra (werkzeug, trustme).
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from fakeservers.core import FakeServer

#: (name, module, factory, port offset) — ports are ``--base-port`` + offset.
DEMO_SERVERS = (
    ("salesforce", "fakeservers.salesforce", "demo_app", 0),
    ("hubspot", "fakeservers.hubspot", "demo_app", 1),
    ("sap", "fakeservers.odata", "demo_app", 2),
    ("dynamics365", "fakeservers.odata", "demo_dynamics_app", 3),
    ("odoo", "fakeservers.odoo", "demo_app", 4),
)
DEFAULT_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def start_all(stack: ExitStack, data: Path, base_port: int) -> dict[str, str]:
    """Start every demo server; returns name → URL (``base_port`` 0: any free ports)."""
    urls = {}
    for name, module, factory, offset in DEMO_SERVERS:
        app = getattr(importlib.import_module(module), factory)(data)
        port = base_port + offset if base_port else 0
        server = stack.enter_context(FakeServer(app, port=port))
        urls[name] = server.url
    return urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakeservers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="sample_data directory to serve (default: the repository's)")
    parser.add_argument("--base-port", type=int, default=8701,
                        help="first port (default 8701; the servers use five in a row)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve until interrupted")
    run = sub.add_parser("run", help="serve while a command runs; exit with its code")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="the command (after --)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        urls = start_all(stack, args.data, args.base_port)
        for name, url in urls.items():
            print(f"{name:12} {url}", file=sys.stderr)
        if args.command == "serve":
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            parser.error("run needs a command after --")
        return subprocess.call(cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
