"""Import rules of STYLE §3, checked on every module's syntax tree (no module is imported).

The table below is the whole policy: which `bot` modules and which third-party packages each
module may import (the standard library is always allowed). On top of it:

- only `config` reads the environment (`os.environ`, `os.getenv`, ...): settings are built once;
- only `tasks` creates tasks (`create_task`, `ensure_future`; a `TaskGroup`'s own `create_task`
  is structured and fine): anything else would be fire-and-forget;
- only `cli` prints;
- only `cli` imports `app`, the composition root.

Every file under `bot/` (and the migrations) must match a row; a new top-level module fails
until it gets one. Rows for modules that do not exist yet cost nothing.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent
BOT: Final = ROOT / "bot"


@dataclass(frozen=True)
class Allowed:
    bot: frozenset[str]  # `bot` modules (a package name covers its submodules)
    third_party: frozenset[str]  # top-level distribution import names


def allow(bot: str = "", third_party: str = "") -> Allowed:
    return Allowed(frozenset(bot.split()), frozenset(third_party.split()))


SLACK_LAYER: Final = "errors logs metrics domain policy policy_store attempts tasks asgi slack"

# Keys: a module path under `bot` ("slack.ids"), or "pkg.*" for a package and everything in it.
# An exact key beats a "pkg.*" key. "bot" is bot/__init__.py; "migrations.*" is outside `bot/`.
RULES: Final[dict[str, Allowed]] = {
    "bot": allow(),
    "__main__": allow("cli"),
    "errors": allow(),
    "logs": allow(),
    "metrics": allow(third_party="prometheus_client"),
    "slack.ids": allow(),
    "asgi": allow(),
    "config": allow("errors", "dotenv"),
    "domain": allow("errors"),
    "policy": allow("domain errors policy"),
    "policy_store": allow("domain errors policy"),
    # Self-contained but for the value types it returns, which live in `domain`.
    "vectorshift": allow("domain", "httpx"),
    # The transport under the VectorShift client (httpx API, aiohttp pool); see its docstring.
    "transport": allow(third_party="httpx aiohttp httpx_aiohttp"),
    # The use cases: VectorShift's value types and errors, never its client's transport.
    "attempts.*": allow("attempts domain errors policy vectorshift", "cachetools"),
    # tasks: `metrics` for its type only (TYPE_CHECKING); it counts shed work on the instance.
    "tasks": allow("logs metrics"),
    # The audit store implements the use cases' port and appends their lifecycle's changes.
    "audit.*": allow("audit domain errors attempts.lifecycle", "sqlalchemy"),
    # Decided deviation: the `migrate` command drives Alembic programmatically.
    "audit.migrate": allow("audit domain errors", "sqlalchemy alembic"),
    # aiohttp: slack_sdk's async clients raise aiohttp's errors, which delivery must catch.
    # cachetools: delivery and directory keep bounded caches.
    "slack.*": allow(SLACK_LAYER, "slack_bolt slack_sdk aiohttp cachetools"),
    # Alerts sit on the Slack layer: they post through `delivery`, render with `blocks`.
    "alerts.*": allow(f"{SLACK_LAYER} alerts", "slack_sdk aiohttp"),
    "web": allow(f"{SLACK_LAYER} alerts", "slack_bolt slack_sdk"),
    # doctor, beyond STYLE §3: `errors` (a leaf) to catch PolicyFileError; `audit.migrate` for
    # "database at head"; httpx for the client that `vectorshift` takes by injection.
    "doctor": allow(
        "config policy vectorshift audit.db audit.migrate slack.ids errors", "slack_sdk yaml httpx"
    ),
    "app": allow("*", "*"),
    "cli": allow("*", "*"),
    "migrations.env": allow("config audit.models", "alembic sqlalchemy"),
    # Migrations are frozen history: they must not change when the models do.
    "migrations.versions.*": allow(third_party="alembic sqlalchemy"),
}

ENV_READERS: Final = {"config"}
TASK_CREATORS: Final = {"tasks"}
PRINTERS: Final = {"cli"}
APP_IMPORTERS: Final = {"cli"}

# STYLE §1's layout, so a row cannot be dropped from RULES by accident.
LAYOUT: Final = [
    "__main__", "cli", "app", "web", "asgi", "alerts", "alerts.formats", "alerts.board",
    "alerts.endpoint", "config", "logs", "metrics", "tasks", "errors", "domain",
    "policy", "policy_store", "vectorshift", "doctor", "attempts", "attempts.lifecycle",
    "attempts.ports", "attempts.context", "attempts.confirm", "attempts.execute",
    "attempts.upkeep", "attempts.queries", "audit.models", "audit.db", "audit.repository",
    "audit.chain", "audit.export", "slack", "slack.ids", "slack.blocks", "slack.commands",
    "slack.actions", "slack.views", "slack.flows", "slack.delivery", "slack.directory",
    "slack.middleware", "slack.error_handler", "slack.entry", "slack.requests", "slack.deps",
    "migrations.env",
]  # fmt: skip

ENV_NAMES: Final = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
TASK_NAMES: Final = {"create_task", "ensure_future"}


def module_name(path: Path) -> str:
    """`bot/slack/ids.py` → `slack.ids`; `migrations/env.py` → `migrations.env`."""
    if path.is_relative_to(BOT):
        parts = list(path.relative_to(BOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts) or "bot"
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def rule_key(module: str) -> str | None:
    if module in RULES:
        return module
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i]) + ".*"
        if key in RULES:
            return key
    return None


def matches(module: str, patterns: set[str]) -> bool:
    """Whether `module` is one of `patterns`, where "pkg.*" stands for pkg and all inside it."""
    return module in patterns or any(
        p.endswith(".*") and (module == p[:-2] or module.startswith(p[:-1])) for p in patterns
    )


def may_import(target: str, allowed: frozenset[str]) -> bool:
    """Whether `bot.<target>` is covered by `allowed` (a package covers its submodules)."""
    return "*" in allowed or any(target == a or target.startswith(a + ".") for a in allowed)


def is_bot_module(dotted: str) -> bool:
    """Whether `bot.<dotted>` is a module or package on disk (else it is a name inside one)."""
    base = BOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


@dataclass(frozen=True)
class Import:
    line: int
    target: str  # "bot.<module>" resolved to a module, or the top-level third-party name


def imports(tree: ast.Module, module: str, is_package: bool) -> list[Import]:
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = ["bot", *module.split(".")] if module != "bot" else ["bot"]
                if not is_package:
                    package = package[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if candidate.startswith("bot.") and is_bot_module(candidate[4:]):
                    found.append(Import(node.lineno, candidate))
                else:
                    found.append(Import(node.lineno, base))
    return found


def bot_target(name: str) -> str | None:
    if name == "bot":
        return "bot"
    return name[4:] if name.startswith("bot.") else None


def import_violations(module: str, tree: ast.Module, is_package: bool) -> list[str]:
    key = rule_key(module)
    if key is None:
        return [f"{module} has no row in RULES: add one (and to STYLE §3)"]
    rule = RULES[key]
    problems: list[str] = []
    for imp in dict.fromkeys(imports(tree, module, is_package)):  # one report per line and module
        target = bot_target(imp.target)
        if target is not None:
            if target == "bot":
                continue  # the package's own metadata (`__version__`)
            if target == "app" and module not in APP_IMPORTERS:
                problems.append(f"line {imp.line}: only cli imports bot.app")
            elif not may_import(target, rule.bot):
                problems.append(f"line {imp.line}: {module} may not import bot.{target}")
            continue
        top = imp.target.split(".")[0]
        if top in sys.stdlib_module_names or {"*", top} & rule.third_party:
            continue
        problems.append(f"line {imp.line}: {module} may not import {top}")
    return problems


def env_violations(tree: ast.Module) -> list[str]:
    os_names = {"os"}
    problems: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname for a in node.names if a.name == "os" and a.asname}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            problems += [
                (node.lineno, f"from os import {a.name}") for a in node.names if a.name in ENV_NAMES
            ]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        ):
            problems.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return in_order(problems)


def task_group_names(tree: ast.Module) -> set[str]:
    """Names bound by `async with asyncio.TaskGroup() as tg`: structured, tasks get awaited."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AsyncWith | ast.With):
            for item in node.items:
                call = item.context_expr
                if (
                    isinstance(call, ast.Call)
                    and isinstance(item.optional_vars, ast.Name)
                    and (
                        (isinstance(call.func, ast.Attribute) and call.func.attr == "TaskGroup")
                        or (isinstance(call.func, ast.Name) and call.func.id == "TaskGroup")
                    )
                ):
                    names.add(item.optional_vars.id)
    return names


def task_violations(tree: ast.Module) -> list[str]:
    groups = task_group_names(tree)
    problems: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "asyncio":
            problems += [
                (node.lineno, f"from asyncio import {a.name}")
                for a in node.names
                if a.name in TASK_NAMES
            ]
        elif isinstance(node, ast.Attribute) and node.attr in TASK_NAMES:
            receiver = node.value
            if not (isinstance(receiver, ast.Name) and receiver.id in groups):
                problems.append((node.lineno, ast.unparse(node)))
    return in_order(problems)


def print_violations(tree: ast.Module) -> list[str]:
    return in_order(
        (node.lineno, "print()")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    )


def in_order(problems: Iterable[tuple[int, str]]) -> list[str]:
    # ast.walk is breadth-first; report in source order.
    return [f"line {line}: {what}" for line, what in sorted(problems)]


def source_files() -> list[Path]:
    files = sorted(BOT.rglob("*.py"))
    migrations = ROOT / "migrations"
    if (migrations / "env.py").is_file():
        files.append(migrations / "env.py")
    files += (
        sorted((migrations / "versions").glob("*.py")) if (migrations / "versions").is_dir() else []
    )
    return files


@cache
def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


FILES: Final = source_files()
IDS: Final = [str(p.relative_to(ROOT)) for p in FILES]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_module_imports_only_what_its_layer_allows(path: Path) -> None:
    problems = import_violations(module_name(path), parse(path), path.name == "__init__.py")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_only_config_reads_the_environment(path: Path) -> None:
    if module_name(path) in ENV_READERS:
        return
    problems = env_violations(parse(path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_only_the_task_supervisor_creates_tasks(path: Path) -> None:
    if module_name(path) in TASK_CREATORS:
        return
    problems = task_violations(parse(path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_only_the_cli_prints(path: Path) -> None:
    if matches(module_name(path), PRINTERS):
        return
    problems = print_violations(parse(path))
    assert not problems, "\n".join(problems)


def test_every_module_in_the_layout_has_a_rule() -> None:
    assert [m for m in LAYOUT if rule_key(m) is None] == []
    assert rule_key("slack.ids") == "slack.ids"
    assert rule_key("slack.flows") == "slack.*"
    assert rule_key("audit.migrate") == "audit.migrate"


def test_vectorshift_imports_nothing_from_bot_but_the_value_types() -> None:
    assert RULES["vectorshift"].bot == frozenset({"domain"})
    tree = ast.parse("from bot.errors import BotError\nfrom bot.domain import RunStatus\n")
    assert import_violations("vectorshift", tree, False) == [
        "line 1: vectorshift may not import bot.errors"
    ]


# The checker checks itself: each rule catches what it is for.


def test_the_checker_catches_a_forbidden_layer_crossing_and_a_stray_dependency() -> None:
    tree = ast.parse(
        "import requests\n"
        "from bot.audit import repository\n"
        "from bot.slack import blocks\n"
        "from ..config import Settings\n"
        "from . import ids\n"
    )
    assert import_violations("slack.flows", tree, False) == [
        "line 1: slack.flows may not import requests",
        "line 2: slack.flows may not import bot.audit.repository",
        "line 4: slack.flows may not import bot.config",
    ]


def test_the_checker_lets_only_cli_import_the_composition_root() -> None:
    tree = ast.parse("from bot.app import open_runtime\n")
    assert import_violations("cli", tree, False) == []
    assert import_violations("web", tree, False) == ["line 1: only cli imports bot.app"]


def test_the_checker_flags_an_unlisted_module() -> None:
    assert import_violations("helpers", ast.parse(""), False) == [
        "helpers has no row in RULES: add one (and to STYLE §3)"
    ]


def test_the_checker_finds_every_way_of_reading_the_environment() -> None:
    tree = ast.parse(
        "import os\nimport os as o\nfrom os import getenv\n"
        "a = os.environ['X']\nb = o.getenv('Y')\nc = os.path.join('a')\n"
    )
    assert env_violations(tree) == [
        "line 3: from os import getenv",
        "line 4: os.environ",
        "line 5: o.getenv",
    ]


def test_the_checker_finds_loose_tasks_but_allows_a_task_group() -> None:
    tree = ast.parse(
        "import asyncio\n"
        "from asyncio import ensure_future\n"
        "async def f(loop):\n"
        "    asyncio.create_task(g())\n"
        "    loop.create_task(g())\n"
        "    async with asyncio.TaskGroup() as tg:\n"
        "        tg.create_task(g())\n"
    )
    assert task_violations(tree) == [
        "line 2: from asyncio import ensure_future",
        "line 4: asyncio.create_task",
        "line 5: loop.create_task",
    ]


def test_the_checker_finds_print_calls() -> None:
    assert print_violations(ast.parse("x = 1\nprint(x)\nlogger.info(print)\n")) == [
        "line 2: print()"
    ]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_nothing_the_wheel_ships_imports_the_devkit(path: Path) -> None:
    # The wheel ships `bot` only; `devkit` (fakes, stack, sandbox) exists in a checkout alone.
    found = [
        imp
        for imp in imports(parse(path), module_name(path), path.name == "__init__.py")
        if imp.target.split(".")[0] == "devkit"
    ]
    assert not found, "\n".join(f"line {imp.line}: imports {imp.target}" for imp in found)


def test_the_checker_finds_a_devkit_import() -> None:
    tree = ast.parse("from devkit.fakes import FakeSlack\n")
    assert [imp.target for imp in imports(tree, "app", False)] == ["devkit.fakes"]


# --- layers and cycles -------------------------------------------------------------------------

LAYERS: Final = (
    ("errors", "logs", "metrics", "slack.ids", "asgi"),
    ("config", "domain"),
    ("policy", "vectorshift", "transport", "tasks"),
    ("policy_store",),
    ("attempts",),
    ("audit", "slack"),  # side by side: neither imports the other
    ("alerts",),
    ("web", "doctor"),
    ("app",),
    ("cli",),
    ("__main__",),
)
"""STYLE §3's picture as layers, lowest first: an import may only run down, or stay inside its
own package; modules on one layer in different packages never import each other."""


def layer_of(module: str) -> tuple[int, str]:
    """The layer of a `bot` module and the layer entry (package or module) it belongs to."""
    best: tuple[int, str] | None = None
    for index, entries in enumerate(LAYERS):
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and (
                best is None or len(entry) > len(best[1])
            ):
                best = (index, entry)
    if best is None:
        raise KeyError(f"{module} is on no layer: add it to LAYERS")
    return best


def bot_edges() -> dict[str, set[str]]:
    """Every `bot` module and the `bot` modules it imports (any import, at any depth)."""
    edges: dict[str, set[str]] = {}
    for path in FILES:
        module = module_name(path)
        if module.startswith("migrations") or module == "bot":
            continue
        targets = {
            target
            for imp in imports(parse(path), module, path.name == "__init__.py")
            if (target := bot_target(imp.target)) not in (None, "bot", module)
        }
        edges[module] = {t for t in targets if t is not None}
    return edges


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(edges.items()):
        layer, entry = layer_of(module)
        for target in sorted(targets):
            target_layer, target_entry = layer_of(target)
            if target_layer > layer:
                problems.append(f"{module} imports {target}: the import runs back up")
            elif target_layer == layer and target_entry != entry:
                problems.append(
                    f"{module} imports {target}: {entry} and {target_entry} sit side by side"
                )
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle among the modules, each once, from its smallest module."""
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                start = cycle.index(min(cycle))
                found.append(cycle[start:] + cycle[:start])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


def test_every_module_sits_on_a_layer() -> None:
    assert [m for m in bot_edges() if _no_layer(m)] == []


def _no_layer(module: str) -> bool:
    try:
        layer_of(module)
    except KeyError:
        return True
    return False


def test_no_import_runs_back_up_and_audit_and_slack_sit_side_by_side() -> None:
    assert layer_violations(bot_edges()) == []


def test_there_are_no_import_cycles() -> None:
    assert cycles(bot_edges()) == []


def test_the_layer_check_catches_an_upward_and_a_sideways_import() -> None:
    assert layer_violations(
        {"attempts.execute": {"slack.blocks"}, "audit.repository": {"slack"}}
    ) == [
        "attempts.execute imports slack.blocks: the import runs back up",
        "audit.repository imports slack: audit and slack sit side by side",
    ]


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
