"""End to end on real databases: a CRM-like schema in PostgreSQL and an ERP-like schema in
MariaDB, audited together; the verdicts follow from the data and the grants. Bad input (wrong
password, unknown table, statement timeout) becomes a finding while the other sources go on,
and earlier runs stay in the store. Skips without the servers; fails under CI=true."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from auditor.cli import app

runner = CliRunner()
MARIADB_PASSWORD = "Sup3r-S3cret!pw"


@pytest.fixture
def databases(pg_engine: sa.Engine, mysql_engine: sa.Engine, unique_name: str
              ) -> Iterator[dict[str, str]]:
    crm, erp, ml, auditor_user = f"crm_{unique_name}", f"erp_{unique_name}", \
        f"ml_{unique_name}", f"aud_{unique_name}"
    with pg_engine.begin() as c:
        c.execute(sa.text(f"CREATE SCHEMA {crm}"))
        c.execute(sa.text(f"CREATE ROLE {ml} LOGIN"))
        c.execute(sa.text(f"""CREATE TABLE {crm}.accounts (
            account_id text PRIMARY KEY, name text NOT NULL, segment text,
            employees int, churned boolean NOT NULL, updated_at timestamp NOT NULL)"""))
        c.execute(sa.text(f"""INSERT INTO {crm}.accounts
            SELECT 'A' || lpad(i::text, 4, '0'), 'Company ' || i,
                   (ARRAY['SMB','Mid-Market','Enterprise'])[1 + i % 3], 10 + i * 7,
                   i % 8 = 0, timestamp '2026-11-19 12:00' - (i || ' minutes')::interval
            FROM generate_series(1, 400) i"""))
        c.execute(sa.text(f"""CREATE TABLE {crm}.contacts (
            contact_id int PRIMARY KEY, account_id text REFERENCES {crm}.accounts,
            email text, phone text)"""))
        c.execute(sa.text(f"""INSERT INTO {crm}.contacts
            SELECT i, 'A' || lpad((1 + i % 400)::text, 4, '0'),
                   'person' || i || '@example.org', '+49 30 ' || (1000000 + i)
            FROM generate_series(1, 300) i"""))
        c.execute(sa.text(f"GRANT USAGE ON SCHEMA {crm} TO PUBLIC"))
        c.execute(sa.text(f"GRANT SELECT ON {crm}.contacts TO PUBLIC"))  # the planted leak
        c.execute(sa.text(f"GRANT SELECT ON {crm}.accounts TO {ml}"))
        c.execute(sa.text(f"CREATE VIEW {crm}.slow AS SELECT a.*, pg_sleep(0.2)::text AS z "
                          f"FROM {crm}.accounts a"))
    with mysql_engine.begin() as c:
        c.execute(sa.text(f"CREATE DATABASE {erp}"))
        c.execute(sa.text(f"""CREATE TABLE {erp}.invoices (
            invoice_id INT PRIMARY KEY, account_id VARCHAR(10), amount DECIMAL(12,2),
            updated_at DATETIME)"""))
        # 1 in 5 invoices points at an account the CRM does not have
        c.execute(sa.text(f"""INSERT INTO {erp}.invoices
            SELECT seq, IF(seq % 5 = 0, CONCAT('X', seq), CONCAT('A', LPAD(1 + seq % 400, 4, '0'))),
                   seq * 10.5, TIMESTAMP('2026-11-19 08:00:00')
            FROM seq_1_to_500"""))
        c.execute(sa.text(f"CREATE USER '{ml}'@'%'"))
        c.execute(sa.text(f"GRANT SELECT ON {erp}.invoices TO '{ml}'@'%'"))
        c.execute(sa.text(f"CREATE USER '{auditor_user}'@'%' IDENTIFIED BY '{MARIADB_PASSWORD}'"))
        c.execute(sa.text(f"GRANT SELECT ON {erp}.* TO '{auditor_user}'@'%'"))
        # the inventory reads the grant tables (connector-protocols.md §5.2)
        c.execute(sa.text(f"GRANT SELECT ON mysql.* TO '{auditor_user}'@'%'"))
    yield {"crm": crm, "erp": erp, "ml": ml, "auditor": auditor_user}
    with pg_engine.begin() as c:
        c.execute(sa.text(f"DROP SCHEMA {crm} CASCADE"))
        c.execute(sa.text(f"REVOKE ALL ON SCHEMA public FROM {ml}"))
        c.execute(sa.text(f"DROP ROLE {ml}"))
    with mysql_engine.begin() as c:
        c.execute(sa.text(f"DROP DATABASE {erp}"))
        c.execute(sa.text(f"DROP USER '{ml}'@'%'"))
        c.execute(sa.text(f"DROP USER '{auditor_user}'@'%'"))


def write_config(tmp: Path, db: dict[str, str], *, accounts_object: str = "accounts",
                 mariadb_password_env: str = "ERP_PW") -> Path:
    crm, erp = db["crm"], db["erp"]
    cfg = tmp / "audit.yml"
    cfg.write_text(f"""
version: 1
as_of: 2026-11-20T00:00:00Z
store: {{path: store.duckdb}}
sources:
  crm:
    kind: postgres
    url: postgresql+psycopg://postgres@127.0.0.1:5432/test
    schema: {crm}
    statement_timeout: 1
  erp:
    kind: mysql
    host: 127.0.0.1
    port: 3306
    database: {erp}
    user: {db['auditor']}
    password: ${{env:{mariadb_password_env}}}
datasets:
  crm.accounts: {{source: crm, object: {accounts_object}, key: [account_id],
                  owner: sales-ops}}
  crm.contacts: {{source: crm, object: contacts, key: [contact_id], owner: sales-ops}}
  erp.invoices: {{source: erp, object: invoices, key: [invoice_id], owner: finance}}
use_cases:
  - use_case: churn
    kind: tabular_training
    consuming_role: {db['ml']}
    datasets: [crm.accounts, erp.invoices]
    joins: [{{left: erp.invoices.account_id, right: crm.accounts.account_id,
              min_match: 0.95}}]
    label: {{column: crm.accounts.churned, positive: true}}
    features: [crm.accounts.segment, crm.accounts.employees, erp.invoices.amount]
    freshness: {{column: erp.invoices.updated_at, warn_after: 24h, error_after: 72h}}
  - use_case: contact-enrichment
    kind: batch_inference
    datasets: [crm.contacts, crm.accounts]
    features: [crm.contacts.account_id, crm.accounts.segment]
""")
    return cfg


def run(cfg: Path, monkeypatch: pytest.MonkeyPatch, password: str = MARIADB_PASSWORD
        ) -> tuple[int, dict[str, Any], str]:
    monkeypatch.setenv("ERP_PW", password)
    out = cfg.parent / "report.json"
    res = runner.invoke(app, ["--quiet", "audit", str(cfg), "--format", "json",
                              "--output", str(out)])
    assert out.exists(), res.output
    return res.exit_code, json.loads(out.read_text()), out.read_text() + res.output


def uc(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(u for u in report["use_cases"] if u["use_case"] == name)


def check(u: dict[str, Any], cid: str) -> dict[str, Any]:
    return next(c for c in u["checks"] if c["check"] == cid)


def test_crm_in_postgres_and_erp_in_mariadb(tmp_path: Path, databases: dict[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    code, report, text = run(write_config(tmp_path, databases), monkeypatch)
    assert code == 1
    assert all(d["status"] == "ok" for d in report["datasets"])
    churn = uc(report, "churn")
    # every fifth invoice has an unknown account: 80% match < 95% -> B7
    q8 = check(churn, "Q8")
    assert q8["value"] == pytest.approx(0.8) and q8["blocker"] == "B7"
    # the consuming role reads accounts (PostgreSQL grant) and invoices (MariaDB grant)
    a3 = check(churn, "A3")
    assert a3["status"] == "evaluated" and a3["value"] == 1.0
    assert churn["band"].startswith("Not ready — B")
    # contacts.email is PII and readable by PUBLIC -> B1
    enrich = uc(report, "contact-enrichment")
    p2 = check(enrich, "P2")
    assert p2["blocker"] == "B1" and "crm.contacts.email" in p2["reason"]
    assert enrich["band"].startswith("Not ready — C")
    # owners and grants from the catalogs are in the store
    contacts = next(d for d in report["datasets"] if d["name"] == "crm.contacts")
    assert any(g["grantee"] == "PUBLIC" for g in contacts["access"])
    assert MARIADB_PASSWORD not in text
    assert MARIADB_PASSWORD.encode() not in (tmp_path / "store.duckdb").read_bytes()


def test_wrong_password_unknown_table_and_timeout_are_findings(
        tmp_path: Path, databases: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write_config(tmp_path, databases)
    first_code, first, _ = run(cfg, monkeypatch)
    # wrong MariaDB password: the ERP source fails, the CRM sources go on
    code, report, text = run(cfg, monkeypatch, password="wrong-" + MARIADB_PASSWORD)
    assert code == 3
    inv = next(d for d in report["datasets"] if d["name"] == "erp.invoices")
    assert inv["status"] == "failed" and "login" in inv["error"].lower()
    assert MARIADB_PASSWORD not in text
    assert all(d["status"] == "ok" for d in report["datasets"] if d["name"] != "erp.invoices")
    # unknown table
    cfg = write_config(tmp_path, databases, accounts_object="acounts")
    code, report, _ = run(cfg, monkeypatch)
    (f,) = [f for f in report["findings"] if f["dataset"] == "crm.accounts"]
    assert code == 3 and f["code"] == "SRC003" and "acounts" in f["message"]
    # statement timeout (1 s) on a slow view
    cfg = write_config(tmp_path, databases, accounts_object="slow")
    code, report, _ = run(cfg, monkeypatch)
    (f,) = [f for f in report["findings"] if f["dataset"] == "crm.accounts"]
    assert code == 3 and f["code"] == "SRC001" and "timeout" in f["message"].lower()
    # every run is still in the store, the first one complete
    res = runner.invoke(app, ["runs", str(cfg)], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert first["run"]["id"] in res.output and res.output.count("partial") == 3
