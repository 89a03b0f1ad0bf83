"""Fixtures of the end-to-end suite (see docs/testing.md).

Run as root with Debian's interpreter:  /usr/bin/python3 -m pytest tests/e2e -v

- `sluice` (session): owns the appliance. Anything left over from an earlier
  run is stopped first; at the end of the session it is stopped again.
- `appliance` (function): the appliance running conf/demo.conf; restarted if
  a previous test left it with another config or killed it. After the test it
  checks that sluiced is still the same live process.
- `fault_appliance` (function): the same with the section in
  tests/e2e/fault.conf appended (the stack's seeded reorder/duplicate hook);
  `drop_appliance` with tests/e2e/fault-drop.conf (3 % of received frames
  dropped). Tests are
  grouped by config, so a full run restarts the appliance once per config.
- `nft_loss` (function): 3 % random loss both ways on sluice0 with nftables;
  the table is always deleted afterwards.
When a test fails, the tail of /run/sluice/sluiced.log is added to its report.
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import sluice_e2e as e2e  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: moves tens of megabytes")


CONF_ORDER = ["appliance", "fault_appliance", "drop_appliance"]
MODULE_ORDER = ["test_config", "test_icmp_udp", "test_tcp", "test_tcp_bulk", "test_hostile_ip",
                "test_hostile_tcp"]


def pytest_collection_modifyitems(session, config, items):
    # Grouped by config, so a full run restarts the appliance once per
    # fault-injection config; within a group bottom-up, so the first failure
    # points at the lowest broken layer, and hostile input comes last.
    def key(item):
        mod = item.module.__name__ if getattr(item, "module", None) else ""
        # Modules not listed (other subsystems' suites) run before the
        # hostile ones, which leave half-open connections behind.
        rank = (MODULE_ORDER.index(mod) if mod in MODULE_ORDER
                else MODULE_ORDER.index("test_hostile_ip") - 0.5)
        names = getattr(item, "fixturenames", ())
        conf = next((i for i, f in enumerate(CONF_ORDER) if f in names), 0)
        return (conf, rank)

    items.sort(key=key)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        pid = e2e.sluiced_pid()
        rep.sections.append(("sluiced", f"pid {pid if pid else '(not running)'}; "
                             f"log tail ({e2e.LOG}):\n{e2e.log_tail(40)}"))


@pytest.fixture(scope="session")
def sluice(request):
    if os.geteuid() != 0:
        pytest.exit("the e2e suite needs root (namespaces, TAP, raw sockets)", returncode=2)
    app = e2e.Appliance()
    _nft_delete_loss_table()  # a killed earlier run may have left it
    app.stop()  # whatever an earlier run left behind
    yield app
    if request.session.testsfailed:
        sys.stderr.write(f"\n--- {e2e.LOG} (tail) ---\n{e2e.log_tail(60)}\n")
    app.stop()


def _check_alive(app, request):
    if not app.alive():
        pytest.fail(f"sluiced (pid {app.pid}) is gone after {request.node.name}:\n"
                    f"{e2e.log_tail(40)}")


@pytest.fixture
def appliance(sluice, request):
    sluice.ensure(e2e.DEMO_CONF)
    yield sluice
    _check_alive(sluice, request)


@pytest.fixture
def fault_appliance(sluice, request):
    sluice.ensure(e2e.compose_conf(e2e.FAULT_CONF))
    yield sluice
    _check_alive(sluice, request)


@pytest.fixture
def drop_appliance(sluice, request):
    sluice.ensure(e2e.compose_conf(e2e.DROP_CONF))
    yield sluice
    _check_alive(sluice, request)


def _nft_delete_loss_table():
    e2e.nsexec("nft", "delete", "table", "inet", e2e.NFT_LOSS_TABLE, check=False, timeout=10)


def nft_loss_counters():
    """{chain: dropped packets} of the loss table."""
    out = e2e.nsexec("nft", "-j", "list", "table", "inet", e2e.NFT_LOSS_TABLE, timeout=10).stdout
    drops = {}
    for obj in json.loads(out)["nftables"]:
        rule = obj.get("rule")
        if rule:
            for expr in rule["expr"]:
                if "counter" in expr:
                    drops[rule["chain"]] = expr["counter"]["packets"]
    return drops


@pytest.fixture
def nft_loss(appliance):
    """3 % random loss on sluice0, both directions, until the test ends."""
    pct = 3
    _nft_delete_loss_table()
    ruleset = f"""
table inet {e2e.NFT_LOSS_TABLE} {{
    chain rx {{
        type filter hook input priority -150; policy accept;
        iifname "{e2e.TAP}" numgen random mod 100 < {pct} counter drop
    }}
    chain tx {{
        type filter hook output priority -150; policy accept;
        oifname "{e2e.TAP}" numgen random mod 100 < {pct} counter drop
    }}
}}
"""
    try:
        e2e.nsexec("nft", "-f", "-", input=ruleset, timeout=10)
        yield nft_loss_counters
    finally:
        _nft_delete_loss_table()
        left = e2e.nsexec("nft", "list", "tables", check=False, timeout=10).stdout
        assert e2e.NFT_LOSS_TABLE not in left, "nft loss table left behind"
