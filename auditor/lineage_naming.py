"""Dataset identities (namespace + name) for OpenLineage, per source kind.

The OpenLineage naming spec wants namespace + name to identify a dataset *physically*: two tools
reading the same table must produce the same pair or the graph never joins up. Databases and files
follow the spec (``postgres://host:port`` + ``db.schema.table``, ``file`` + ``/abs/path``). DuckDB,
Salesforce, HubSpot, Dynamics, SAP and Odoo have no official entry; the conventions below are the
project's own, documented in ``docs/lineage.md``, and must stay stable (changing one later orphans
every node already recorded by Marquez). Credentials never appear in a namespace or URI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from openlineage.client.naming import dataset as ol_naming

#: Marquez accepts namespaces made of these characters only (notes §3.2).
_NS_ALLOWED = re.compile(r"[^a-zA-Z:;=/0-9_\-.@+]")
_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521,
                  "db2": 50000, "hana": 30015, "trino": 8080, "redshift": 5439}
_KIND_ALIASES = {"postgresql": "postgres", "pg": "postgres", "mariadb": "mysql",
                 "sqlserver": "mssql", "azuresql": "mssql", "dynamics365": "dynamics",
                 "dataverse": "dynamics", "sap_odata": "sap", "sap_hana": "hana",
                 "excel": "file", "csv": "file", "parquet": "file"}


@dataclass(frozen=True, slots=True)
class DatasetId:
    """A dataset's OpenLineage identity; ``node_id`` is Marquez's graph node id."""

    namespace: str
    name: str

    @property
    def node_id(self) -> str:
        return f"dataset:{self.namespace}:{self.name}"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace != "file" else self.name


def safe_namespace(ns: str) -> str:
    """Replace characters Marquez rejects in namespaces (spaces, %, ?, ...) with ``_``."""
    return _NS_ALLOWED.sub("_", ns)[:1024]


def safe_name(name: str) -> str:
    """``#`` is Marquez's version delimiter; never let it into a dataset name."""
    return name.replace("#", "_")


def parse_node_id(node_id: str) -> tuple[str, str, str, str | None]:
    """Split ``dataset:ns:name[:field]`` like Marquez: colons before ``//`` or a digit stay.

    Returns (type, namespace, name, field). Names containing ``:`` are ambiguous in Marquez
    too (notes §8.3); the namespace takes the first unprotected segment.
    """
    node_id = node_id.split("#", 1)[0]
    parts: list[str] = []
    cur = ""
    i = 0
    while i < len(node_id):
        ch = node_id[i]
        rest = node_id[i + 1:]
        if ch == ":" and not (rest.startswith("//") or rest[:1].isdigit()):
            parts.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    parts.append(cur)
    kind = parts[0]
    if kind == "datasetField" and len(parts) >= 4:
        return kind, parts[1], ":".join(parts[2:-1]), parts[-1]
    if len(parts) >= 3:
        return kind, parts[1], ":".join(parts[2:]), None
    raise ValueError(f"not a Marquez node id: {node_id!r}")


def _host_port(options: Mapping[str, Any], kind: str) -> tuple[str | None, int | None, str]:
    """Host, port and database from explicit options or a URL/DSN (credentials dropped)."""
    host = options.get("host") or options.get("server") or options.get("hostname")
    port = options.get("port")
    database = options.get("database") or options.get("dbname") or options.get("db") or ""
    for key in ("url", "dsn", "connection_url", "uri"):
        raw = options.get(key)
        if isinstance(raw, str) and "://" in raw:
            parts = urlsplit(raw)
            host = host or parts.hostname
            try:
                port = port or parts.port
            except ValueError:
                pass
            database = database or parts.path.lstrip("/").split("/", 1)[0]
            break
    port_num = int(port) if port not in (None, "") else _DEFAULT_PORTS.get(kind)
    return (str(host).lower() if host else None), port_num, str(database)


def _split(obj: str, n: int) -> list[str]:
    """Split a dotted object name into at most ``n`` parts, from the right."""
    parts = obj.split(".")
    if len(parts) > n:
        parts = [".".join(parts[: len(parts) - n + 1]), *parts[len(parts) - n + 1:]]
    return parts


def _file_path(options: Mapping[str, Any], obj: str, base_dir: Path,
               location: str | None) -> str:
    if location:
        return PurePosixPath(Path(location).resolve().as_posix()).as_posix()
    root = Path(str(options.get("path", "."))).expanduser()
    root = root if root.is_absolute() else base_dir / root
    return (root / obj).resolve().as_posix()


def source_dataset_id(kind: str, options: Mapping[str, Any], obj: str, *, source: str,
                      base_dir: Path, location: str | None = None,
                      namespace_override: str | None = None) -> DatasetId:
    """The identity of the object ``obj`` read from a source of ``kind``.

    ``location`` is what the connector reported (a file's absolute path); ``namespace_override``
    comes from ``lineage.source_namespaces`` and wins over every convention.
    """
    kind = _KIND_ALIASES.get(kind.lower(), kind.lower())
    host, port, database = _host_port(options, kind)
    if kind == "file":
        path = _file_path(options, obj, base_dir, location)
        ident = DatasetId(ol_naming.LocalFileSystem(path=path).get_namespace(), path)
        if namespace_override:
            ident = DatasetId(namespace_override, path)
        return DatasetId(safe_namespace(ident.namespace), safe_name(ident.name))
    ns, name = _convention(kind, options, obj, host=host, port=port, database=database,
                           source=source, base_dir=base_dir)
    return DatasetId(safe_namespace(namespace_override or ns), safe_name(name))


def _convention(kind: str, options: Mapping[str, Any], obj: str, *, host: str | None,
                port: int | None, database: str, source: str,
                base_dir: Path) -> tuple[str, str]:
    hp = f"{host or source}:{port}" if port else (host or source)
    if kind == "postgres":
        schema_table = _split(obj, 2) if "." in obj else [options.get("schema") or "public", obj]
        parts = _split(obj, 3) if obj.count(".") >= 2 else [database, *schema_table]
        return f"postgres://{hp}", ".".join(parts)
    if kind == "mysql":
        parts = _split(obj, 2) if "." in obj else [database, obj]
        return f"mysql://{hp}", ".".join(parts)
    if kind == "mssql":
        schema_table = _split(obj, 2) if "." in obj else [options.get("schema") or "dbo", obj]
        parts = _split(obj, 3) if obj.count(".") >= 2 else [database, *schema_table]
        return f"mssql://{hp}", ".".join(parts)
    if kind in ("sqlite", "duckdb"):
        raw = str(options.get("path") or options.get("database") or database or source)
        p = Path(raw).expanduser()
        path = (p if p.is_absolute() else base_dir / p).resolve().as_posix()
        if kind == "sqlite":
            return f"sqlite://{path}", obj
        catalog = Path(path).stem
        parts = _split(obj, 3) if obj.count(".") >= 2 else \
            [catalog, *(_split(obj, 2) if "." in obj else ["main", obj])]
        return f"duckdb://{path}", ".".join(parts)
    if kind == "snowflake":
        account = str(options.get("account") or host or source).lower()
        return f"snowflake://{account}", obj
    if kind == "bigquery":
        return "bigquery", obj
    if kind == "salesforce":
        return f"salesforce://{_api_host(options, host, source)}", obj
    if kind == "hubspot":
        portal = options.get("portal_id") or options.get("hub_id") or options.get("account_id")
        return f"hubspot://{portal or source}", obj.lower()
    if kind == "dynamics":
        return f"dynamics://{_api_host(options, host, source)}", obj
    if kind == "sap":
        service_url = options.get("service_url")
        if isinstance(service_url, str) and "://" in service_url:
            parts = urlsplit(service_url)  # never netloc: it may hold user:password@
            where = f"{parts.hostname}:{parts.port}" if parts.port else f"{parts.hostname}"
            return f"{parts.scheme}://{where.lower()}", f"{parts.path.strip('/')}/{obj}"
        service = options.get("service")
        if service:
            base = f"https://{host or source}" + (f":{port}" if options.get("port") else "")
            return base, f"{str(service).strip('/')}/{obj}"
        return f"sap://{hp}", obj
    if kind == "hana":
        return f"hana://{hp}", obj
    if kind == "odoo":
        return f"odoo://{_api_host(options, host, source)}", obj
    return f"{kind}://{hp}", obj


def _api_host(options: Mapping[str, Any], host: str | None, source: str) -> str:
    """The API host of a SaaS source (instance URL, domain or host option)."""
    for key in ("instance_url", "domain", "base_url", "environment_url", "org_url", "url",
                "service_url", "login_url"):
        raw = options.get(key)
        if isinstance(raw, str) and raw:
            parsed = urlsplit(raw if "://" in raw else f"https://{raw}")
            if parsed.hostname:
                return parsed.hostname.lower()
    return host or source


def store_dataset_id(store_path: str | Path, table: str, *,
                     namespace_override: str | None = None) -> DatasetId:
    """Identity of a DuckDB snapshot table in the audit store (dbt-duckdb's convention)."""
    path = Path(store_path)
    if str(store_path) == ":memory:":
        return DatasetId(namespace_override or "duckdb://memory", f"memory.samples.{table}")
    abs_path = path.resolve().as_posix()
    ns = namespace_override or f"duckdb://{abs_path}"
    return DatasetId(safe_namespace(ns), safe_name(f"{path.stem}.samples.{table}"))


def datasource_uri(ident: DatasetId) -> str:
    """A credential-free URI for the dataSource facet (``file:///abs/path`` for files)."""
    if ident.namespace == "file":
        return Path(ident.name).as_uri() if ident.name.startswith("/") else f"file:{ident.name}"
    if "://" in ident.namespace:
        return ident.namespace
    return f"{ident.namespace}:"
