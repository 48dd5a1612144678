"""The app package holds only what the app needs: `.funcignore` keeps development code and local data out.

Both deploy paths read `.funcignore` with gitignore rules: azd for a Functions service (azure-dev docs,
`articles/azure-developer-cli/service-packaging-ignore-files.md`: with the file present its rules replace
azd's default exclusions) and Core Tools' `func azure functionapp publish` (azure-functions-core-tools
`src/Azure.Functions.Cli/Helpers/ZipHelper.cs`: `GetAppZipFile` lists the files through a GitIgnoreParser
of `.funcignore`, for Python too). The test builds the file list a
deploy would package from this checkout, plus the local files a developer's checkout holds (the SMS outbox,
development keys, Azurite's data, settings, environments), and checks it against the app's own files; then it
checks that no packaged module imports an excluded one, eagerly or through `lazy_import`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pathspec
from infra_paths import REPO

APP_FILES = {"function_app.py", "host.json", "requirements.txt"}
APP_PACKAGE = "shared/"
EXCLUDED_PACKAGE = "shared/devhost/"
LOCAL_FILES = [
    "outbox/sms.jsonl",
    ".devkeys/epic-private-key.pem",
    ".azurite/__azurite_db_table__.json",
    "local.settings.json",
    ".venv/lib/python3.11/site-packages/azure/core/__init__.py",
    "node_modules/azurite/package.json",
    ".azure/prod/.env",
    ".python_packages/lib/site-packages/x.py",
    "shared/__pycache__/settings.cpython-311.pyc",
    "tests/__pycache__/conftest.cpython-311.pyc",
    ".vscode/settings.json",
    ".git/HEAD",
]


def _checkout_files() -> list[str]:
    """Every file under the repository as a deploy tool sees it, not descending into symlinked folders."""
    found = []
    for directory, folders, files in os.walk(REPO):
        base = Path(directory).relative_to(REPO)
        found += [(base / name).as_posix() for name in files]
        for name in folders:
            if (Path(directory) / name).is_symlink():  # a tool that follows it would package what is inside
                found += [(base / name).as_posix(), (base / name / "inside.py").as_posix()]
        folders[:] = [f for f in folders if not (Path(directory) / f).is_symlink()]
    return found


def packaged(files: list[str]) -> list[str]:
    spec = pathspec.GitIgnoreSpec.from_lines((REPO / ".funcignore").read_text().splitlines())
    return sorted(path for path in files if not spec.match_file(path))


def _is_app_file(path: str) -> bool:
    return path in APP_FILES or (path.startswith(APP_PACKAGE) and not path.startswith(EXCLUDED_PACKAGE))


def test_the_package_holds_only_the_app() -> None:
    package = packaged(_checkout_files() + LOCAL_FILES)
    assert [path for path in package if not _is_app_file(path)] == []
    assert APP_FILES | {"shared/__init__.py", "shared/settings.py", "shared/openapi.json"} <= set(package)
    assert not [path for path in package if path.endswith(".pyc") or "__pycache__" in path]


def test_the_check_fails_when_funcignore_misses_a_folder() -> None:
    lines = (REPO / ".funcignore").read_text().replace("localworld/\n", "").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    assert not spec.match_file("localworld/epic.py")


def _imported_modules(path: Path) -> set[str]:
    """Modules `path` imports, and the names it hands to lazy_import()."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_import" and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.add(argument.value)
    return names


def _module_file(name: str) -> str | None:
    """The repository file of module `name`, or None when it is not ours (a dependency)."""
    relative = Path(*name.split("."))
    for candidate in (relative.with_suffix(".py"), relative / "__init__.py"):
        if (REPO / candidate).is_file():
            return candidate.as_posix()
    top = REPO / name.split(".")[0]
    return f"{name.split('.')[0]}/" if top.is_dir() or top.with_suffix(".py").is_file() else None


def test_no_packaged_module_imports_an_excluded_one() -> None:
    package = set(packaged(_checkout_files()))
    problems = []
    for path in sorted(p for p in package if p.endswith(".py")):
        for name in _imported_modules(REPO / path):
            target = _module_file(name)
            if target is not None and target not in package:
                problems.append(f"{path} imports {name} ({target} is not deployed)")
    assert problems == []


def test_indexing_the_app_loads_only_packaged_files() -> None:
    """What the host does first: import function_app and index every function, in a fresh interpreter."""
    script = (
        "import json, sys\n"
        "import function_app\n"
        "function_app.app.get_functions()\n"
        "print(json.dumps(sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, '__file__', None)})))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    loaded = [Path(file).resolve() for file in json.loads(completed.stdout)]
    ours = [file.relative_to(REPO).as_posix() for file in loaded if file.is_relative_to(REPO.resolve())]
    ours = [file for file in ours if not file.startswith(".venv/")]
    assert ours
    package = set(packaged(_checkout_files()))
    assert [file for file in ours if file not in package] == []
