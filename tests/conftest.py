"""Suite-wide guard: no test passes if a `FakeSlack` was sent a payload Slack would refuse.

`FakeSlack` checks every view and message it receives against `devkit.slack_limits` and
records what breaks Slack's Block Kit limits. After each test, `slack_payloads_within_limits`
takes everything recorded and not yet taken, from every fake (function- and module-scoped
alike), and fails the test with the list. A test that sends an invalid payload on purpose takes
the violations it expects with `FakeSlack.take_limit_violations()`.

The check runs at teardown, so it also sees what the bot sent while fixtures shut it down; a
violation shows up as an error in the test's teardown, naming the method and the JSON pointer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.fakes.slack_api import drain_limit_violations


@pytest.fixture(autouse=True)
def slack_payloads_within_limits() -> Iterator[None]:
    """Fails the test if any FakeSlack recorded a Block Kit limit violation during it."""
    yield
    violations = drain_limit_violations()
    if violations:
        lines = "\n".join(f"  {method}: {problem}" for method, problem in violations)
        pytest.fail(f"Slack would refuse what the bot sent:\n{lines}", pytrace=False)
