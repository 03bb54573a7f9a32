"""PolicyStore: loads the policy file, reloads it on change, keeps the last good policy."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.errors import PolicyFileError
from bot.policy import Policy
from bot.policy_store import PolicyStore

GOOD = """\
admins = ["U0ADMIN01"]

[[rules]]
name = "oncall"
who = ["U0ALICE"]
pipelines = ["*"]
channels = ["C0INCIDENTS"]
"""
BETTER = GOOD.replace('"U0ALICE"', '"U0ALICE", "U0BOB"')
BROKEN = GOOD.replace('who = ["U0ALICE"]', 'who = ["X123"]')
LOGGER = "test.policy_store"
BASE_NS = 1_700_000_000 * 10**9


def write(path: Path, text: str, *, second: int) -> None:
    """Write and give the file a distinct mtime, so a change never hides in one clock tick."""
    path.write_text(text, encoding="utf-8")
    stamp = BASE_NS + second * 10**9
    os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "policy.toml"


@pytest.fixture
def store(path: Path) -> PolicyStore:
    return PolicyStore(path, logger=logging.getLogger(LOGGER))


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]


def rule_who(store: PolicyStore) -> frozenset[str]:
    return store.current.rules[0].who


def test_missing_file_at_startup_means_an_empty_policy_and_a_warning(
    store: PolicyStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    store.load_initial()
    assert store.current == Policy.empty()
    assert store.last_error is None
    assert records(caplog) == [("WARNING", f"no policy file at {path}: every request is denied")]
    assert store.reload_if_changed() is False
    assert len(records(caplog)) == 1


def test_a_file_created_after_startup_is_loaded(store: PolicyStore, path: Path) -> None:
    store.load_initial()
    write(path, GOOD, second=1)
    assert store.reload_if_changed() is True
    assert rule_who(store) == frozenset({"U0ALICE"})


def test_startup_loads_the_file_and_logs_a_summary(
    store: PolicyStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    write(path, GOOD, second=1)
    store.load_initial()
    assert store.current.admins == frozenset({"U0ADMIN01"})
    assert records(caplog) == [("INFO", f"policy loaded from {path}: 1 admins, 0 aliases, 1 rules")]


def test_a_broken_file_at_startup_is_an_error(store: PolicyStore, path: Path) -> None:
    write(path, BROKEN, second=1)
    with pytest.raises(PolicyFileError) as raised:
        store.load_initial()
    assert raised.value.problems == [
        f"{path}:5: rules[1].who: 'X123' is not a user (U…/W…) or user-group (S…) id"
    ]
    assert store.current == Policy.empty()


def test_a_changed_file_is_reloaded(
    store: PolicyStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    caplog.set_level(logging.INFO, logger=LOGGER)
    write(path, BETTER, second=2)
    assert store.reload_if_changed() is True
    assert rule_who(store) == frozenset({"U0ALICE", "U0BOB"})
    assert records(caplog) == [
        ("INFO", f"policy reloaded from {path}: 1 admins, 0 aliases, 1 rules")
    ]


def test_an_unchanged_file_is_not_read_again(
    store: PolicyStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    before = store.current
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    assert store.reload_if_changed() is False
    assert store.reload_if_changed() is False
    assert store.current is before
    assert records(caplog) == []


def test_a_touched_file_with_the_same_content_is_not_reparsed(
    store: PolicyStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    before = store.current
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    write(path, GOOD, second=2)
    assert store.reload_if_changed() is False
    assert store.current is before
    assert records(caplog) == []


def test_a_broken_edit_keeps_the_last_good_policy_and_is_logged_once(
    store: PolicyStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    before = store.current
    caplog.set_level(logging.INFO, logger=LOGGER)
    write(path, BROKEN, second=2)
    assert store.reload_if_changed() is False
    assert store.current is before
    problem = f"{path}:5: rules[1].who: 'X123' is not a user (U…/W…) or user-group (S…) id"
    assert store.last_error == problem
    assert records(caplog) == [
        ("ERROR", f"policy file {path} is invalid; keeping the last good policy: {problem}")
    ]
    assert store.reload_if_changed() is False
    assert len(records(caplog)) == 1


def test_fixing_a_broken_edit_clears_the_error(store: PolicyStore, path: Path) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    write(path, BROKEN, second=2)
    store.reload_if_changed()
    write(path, BETTER, second=3)
    assert store.reload_if_changed() is True
    assert store.last_error is None
    assert rule_who(store) == frozenset({"U0ALICE", "U0BOB"})


def test_a_toml_syntax_error_keeps_the_last_good_policy(store: PolicyStore, path: Path) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    write(path, GOOD + "[[rules]\n", second=2)
    assert store.reload_if_changed() is False
    assert rule_who(store) == frozenset({"U0ALICE"})
    assert store.last_error == (
        f"{path}: TOML syntax error: Expected ']]' at the end of an array declaration "
        "(at line 8, column 8)"
    )


def test_a_deleted_file_keeps_the_last_good_policy(
    store: PolicyStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    caplog.set_level(logging.INFO, logger=LOGGER)
    path.unlink()
    assert store.reload_if_changed() is False
    assert rule_who(store) == frozenset({"U0ALICE"})
    assert store.last_error == f"{path}: the file is missing"
    assert records(caplog) == [
        ("WARNING", f"policy file {path} is missing; keeping the last good policy")
    ]
    assert store.reload_if_changed() is False
    assert len(records(caplog)) == 1
    write(path, BETTER, second=2)
    assert store.reload_if_changed() is True
    assert store.last_error is None


def test_a_file_swapped_by_rename_is_reloaded(store: PolicyStore, path: Path) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    staged = path.with_name("policy.toml.new")
    write(staged, BETTER, second=1)
    staged.replace(path)
    assert store.reload_if_changed() is True
    assert rule_who(store) == frozenset({"U0ALICE", "U0BOB"})


def test_forced_reload_reads_the_file_even_when_unchanged(
    store: PolicyStore, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    before = store.current
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert store.reload() is True
    assert store.current == before
    assert store.current is not before
    assert records(caplog) == [
        ("INFO", f"policy reloaded from {path}: 1 admins, 0 aliases, 1 rules")
    ]


def test_forced_reload_of_a_broken_file_keeps_the_last_good_policy(
    store: PolicyStore, path: Path
) -> None:
    write(path, GOOD, second=1)
    store.load_initial()
    write(path, BROKEN, second=2)
    assert store.reload() is False
    assert rule_who(store) == frozenset({"U0ALICE"})
    assert store.last_error is not None
    assert store.last_error.endswith("'X123' is not a user (U…/W…) or user-group (S…) id")
