"""The suite's own configs: tests/e2e/fault*.conf are overlays holding only a
fault_injection section; appended to conf/demo.conf they must be valid, so
the fault tests run the demo appliance plus faults and nothing else."""

import re

import pytest

import sluice_e2e as e2e

OVERLAYS = {"fault.conf": ("reorder_ppm", "duplicate_ppm"), "fault-drop.conf": ("drop_ppm",)}


def _body(text):
    return "\n".join(ln for ln in text.splitlines()
                     if ln.strip() and not ln.lstrip().startswith("#")).strip()


@pytest.mark.parametrize("name", sorted(OVERLAYS))
def test_overlay_is_only_a_fault_injection_section(name):
    body = _body((e2e.E2E_DIR / name).read_text())
    assert body.startswith("fault_injection {") and body.endswith("}"), \
        f"tests/e2e/{name} must hold a fault_injection section and nothing else"
    assert body.count("{") == 1, f"tests/e2e/{name}: nested or extra sections"
    assert re.search(r"enabled\s*=\s*true;", body)
    for key in OVERLAYS[name]:
        assert re.search(key + r"\s*=\s*[1-9]", body), f"{name}: no {key}"


@pytest.mark.parametrize("name", sorted(OVERLAYS))
def test_demo_plus_overlay_passes_check_config(name):
    conf = e2e.compose_conf(e2e.E2E_DIR / name)
    p = e2e.run([str(e2e.ROOT / "build" / "sluiced"), "--config", str(conf), "--check-config"],
                check=False, timeout=30)
    assert p.returncode == 0, f"sluiced --check-config rejected demo + {name}:\n{p.stdout}{p.stderr}"
