"""The suite's own configs: tests/e2e/fault.conf must be conf/demo.conf plus a
fault_injection section, or the fault tests would test another appliance."""

import re

import sluice_e2e as e2e


def _body(text):
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    return "\n".join(lines).strip()


def test_fault_conf_is_demo_plus_fault_injection():
    demo = _body(e2e.DEMO_CONF.read_text())
    fault = e2e.FAULT_CONF.read_text()
    head, sep, section = fault.partition("fault_injection {")
    assert sep, "tests/e2e/fault.conf has no fault_injection section"
    assert _body(head) == demo, ("tests/e2e/fault.conf drifted from conf/demo.conf: copy "
                                 "conf/demo.conf and keep the fault_injection section")
    assert re.search(r"enabled\s*=\s*true;", section)
    assert re.search(r"reorder_ppm\s*=\s*[1-9]", section)
    assert re.search(r"duplicate_ppm\s*=\s*[1-9]", section)


def test_fault_conf_passes_check_config():
    p = e2e.run([str(e2e.ROOT / "build" / "sluiced"), "--config", str(e2e.FAULT_CONF),
                 "--check-config"], check=False, timeout=30)
    assert p.returncode == 0, f"sluiced --check-config rejected fault.conf:\n{p.stdout}{p.stderr}"
