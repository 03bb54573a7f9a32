"""The live policy: loads the policy file, reloads it when it changes, keeps the last good one.

A broken edit never replaces a working policy: it is logged at ERROR naming every problem and
kept in `last_error` until a good version arrives. A missing file at startup means an empty
policy (every request denied) and a WARNING; a file that disappears later keeps the last good
policy. The store starts no threads or tasks: the app calls `reload_if_changed` every couple
of seconds and `reload` on SIGHUP. Both do a `stat` and, only when that changed, one small read;
the app may run them in `asyncio.to_thread` if it wants the loop free of even that.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from bot.errors import PolicyFileError
from bot.policy import Policy, parse_policy_bytes

_Signature = tuple[int, int, int, int]
"""(inode, size, mtime_ns, ctime_ns): a symlink swap (Kubernetes ConfigMap) changes the inode."""


class PolicyStore:
    """Holds the current policy and swaps in a new one when the file changes and validates.

    Args:
        path: the policy file (`VS_POLICY_FILE`).
        logger: where reloads and problems are logged; defaults to this module's logger.

    Attributes:
        last_error: the problems of the newest version that could not be loaded (broken,
            unreadable or missing after a good load), or None once a good version is loaded.
    """

    def __init__(self, path: Path, *, logger: logging.Logger | None = None) -> None:
        self._path = path
        self._log = logger if logger is not None else logging.getLogger(__name__)
        self._policy = Policy.empty()
        self._signature: _Signature | None = None
        self._digest: str | None = None  # of the content last parsed, good or broken
        self.last_error: str | None = None

    @property
    def path(self) -> Path:
        """The policy file."""
        return self._path

    @property
    def current(self) -> Policy:
        """The last good policy (empty until one has loaded)."""
        return self._policy

    def load_initial(self) -> None:
        """Load the policy at startup.

        A missing file leaves the empty policy in place, with a WARNING that every request is
        denied.

        Raises:
            PolicyFileError: if the file exists but cannot be read or is invalid; the app must
                not start on a policy it cannot read.
        """
        signature = self._stat()
        if signature is None:
            self._log.warning("no policy file at %s: every request is denied", self._path)
            return
        data = self._read()
        policy = parse_policy_bytes(data, source=str(self._path))
        self._signature = signature
        self._install(policy, data, reloaded=False)

    def reload_if_changed(self) -> bool:
        """Reload when the file changed since the last look; cheap when it did not.

        Returns:
            True if a new policy is now current.
        """
        signature = self._stat()
        if signature == self._signature:
            return False
        self._signature = signature
        return self._load(force=False)

    def reload(self) -> bool:
        """Reload now whatever the file's metadata says (SIGHUP).

        Returns:
            True if the file validated and is now the current policy.
        """
        self._signature = self._stat()
        return self._load(force=True)

    def _load(self, *, force: bool) -> bool:
        if self._signature is None:
            self.last_error = f"{self._path}: the file is missing"
            self._log.warning("policy file %s is missing; keeping the last good policy", self._path)
            return False
        try:
            data = self._read()
        except PolicyFileError as exc:
            return self._reject(exc.problems)
        if not force and _digest(data) == self._digest:
            return False  # touched or rewritten with the same content: nothing to do
        try:
            policy = parse_policy_bytes(data, source=str(self._path))
        except PolicyFileError as exc:
            self._digest = _digest(data)
            return self._reject(exc.problems)
        self._install(policy, data, reloaded=True)
        return True

    def _install(self, policy: Policy, data: bytes, *, reloaded: bool) -> None:
        self._policy = policy
        self._digest = _digest(data)
        self.last_error = None
        self._log.info(
            "policy %s from %s: %d admins, %d aliases, %d rules",
            "reloaded" if reloaded else "loaded",
            self._path,
            len(policy.admins),
            len(policy.aliases),
            len(policy.rules),
        )

    def _reject(self, problems: list[str]) -> bool:
        self.last_error = "; ".join(problems)
        self._log.error(
            "policy file %s is invalid; keeping the last good policy: %s",
            self._path,
            self.last_error,
        )
        return False

    def _stat(self) -> _Signature | None:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return None
        except OSError:
            # Unreadable metadata: make it look changed so the read reports the real problem.
            return (-1, -1, -1, -1)
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _read(self) -> bytes:
        try:
            return self._path.read_bytes()
        except OSError as exc:
            raise PolicyFileError(
                [f"{self._path}: cannot be read ({exc.strerror or exc})"]
            ) from exc


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
