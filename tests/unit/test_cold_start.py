"""Cold start without timing: indexing the app loads no heavy SDK and no service; lazy modules load once."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

import function_app
from shared.lazy import lazy_import

ROOT = Path(__file__).resolve().parents[2]

HEAVY_MODULES = (
    "azure.identity",
    "msgraph",
    "azure.communication.sms",
    "azure.communication.phonenumbers",
    "azure.data.tables",
    "azure.storage.queue",
    "azure.storage.blob",
    "requests",
    "jwt",
    "cryptography",
    "hl7",
    "phonenumbers",
    "httpx",
    "jinja2",
    "babel",
)
"""Packages a handler may need but indexing must not load (each costs milliseconds to a second)."""


@pytest.fixture(scope="module")
def modules_after_indexing() -> set[str]:
    """`sys.modules` of a fresh interpreter that imported the app and indexed its functions, as the host does."""
    script = "import json, sys, function_app; function_app.app.get_functions(); print(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(completed.stdout))


def loaded(modules: set[str], package: str) -> list[str]:
    return sorted(name for name in modules if name == package or name.startswith(package + "."))


@pytest.mark.parametrize("package", HEAVY_MODULES)
def test_indexing_loads_no_heavy_package(modules_after_indexing: set[str], package: str) -> None:
    assert loaded(modules_after_indexing, package) == []


def test_indexing_loads_no_service(modules_after_indexing: set[str]) -> None:
    """Services (and the adapters and domain modules they import) load on a handler's first call."""
    assert loaded(modules_after_indexing, "shared.services") == []


def test_indexing_does_not_load_the_settings_module(modules_after_indexing: set[str]) -> None:
    """Settings load (and are validated) on the first call; registering the triggers needs only shared.geos."""
    assert "shared.settings" not in modules_after_indexing


def test_indexing_does_not_load_the_configuration_domain(modules_after_indexing: set[str]) -> None:
    """The configuration's dataclasses and checks are for handlers: documents load them on first use."""
    assert "shared.domain.config" not in modules_after_indexing


def test_every_module_a_trigger_names_exists() -> None:
    """A lazy module is imported only on first call; a wrong name must still fail a test."""
    triggers = [m for m in vars(function_app).values() if isinstance(m, ModuleType)]
    named = {v.__name__ for t in triggers for v in vars(t).values() if isinstance(v, ModuleType)}
    assert "shared.services.endpoints" in named
    for name in sorted(named):
        importlib.import_module(name)


@pytest.fixture
def slow_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimpleNamespace]:
    """A module on sys.path whose import waits on `gate.release` after setting `gate.entered`."""
    name = f"lazy_probe_{uuid.uuid4().hex}"
    gate = SimpleNamespace(entered=threading.Event(), release=threading.Event())
    gate_module = ModuleType(f"{name}_gate")
    gate_module.gate = gate
    monkeypatch.setitem(sys.modules, gate_module.__name__, gate_module)
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(f"""
            from {name}_gate import gate

            gate.entered.set()
            gate.release.wait(30)
            VALUE = 42
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield SimpleNamespace(name=name, gate=gate)
    gate.release.set()
    sys.modules.pop(name, None)


def test_lazy_module_loads_on_first_attribute_access(slow_module: SimpleNamespace) -> None:
    module = lazy_import(slow_module.name)
    assert slow_module.name not in sys.modules
    slow_module.gate.release.set()
    assert module.VALUE == 42
    assert sys.modules[slow_module.name].VALUE == 42


def test_concurrent_first_calls_wait_for_the_one_import(slow_module: SimpleNamespace) -> None:
    """Two handlers' first calls at once (the worker's thread pool): neither sees a half-loaded module."""
    module = lazy_import(slow_module.name)
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(lambda: module.VALUE)
        assert slow_module.gate.entered.wait(30)
        second = pool.submit(lambda: module.VALUE)
        wait_for([second], timeout=0.5)  # room for the second call to reach the module mid-import
        slow_module.gate.release.set()
        assert (first.result(30), second.result(30)) == (42, 42)
