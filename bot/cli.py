"""`vs-terminate-bot`: the command line of SPEC §3, and its exit codes.

Exit codes: 0 success; 1 a check or verification failed (`doctor`, `audit verify`, a
runtime that could not start); 2 bad configuration or usage (`ConfigError`, bad flags).
This is the only module that prints, and the only one that imports `bot.app`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot import __version__
from bot.config import Settings, load_settings
from bot.errors import BotError, ConfigError, PolicyFileError
from bot.logs import configure_logging

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vs-terminate-bot",
        description="Stop VectorShift pipeline runs from Slack, with an audit trail.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="HTTP mode: Slack events, /healthz, /metrics, alerts")
    serve.add_argument("--no-migrate", action="store_true", help="skip applying migrations")
    socket = commands.add_parser(
        "socket", help="Socket Mode (SLACK_APP_TOKEN), plus the HTTP routes"
    )
    socket.add_argument("--no-migrate", action="store_true", help="skip applying migrations")
    commands.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    commands.add_parser("doctor", help="check configuration, database, Slack, VectorShift, policy")

    audit = commands.add_parser("audit", help="export or verify the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    export = audit_commands.add_parser("export", help="one record per attempt, to stdout")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--since", type=_timestamp, help="ISO 8601 date or time (UTC if no zone)")
    export.add_argument("--until", type=_timestamp, help="ISO 8601 date or time (UTC if no zone)")
    for name in ("pipeline", "run", "user", "outcome"):
        export.add_argument(f"--{name}")
    audit_commands.add_parser("verify", help="verify the tamper-evident chain")

    policy = commands.add_parser("policy", help="inspect the policy file")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = policy_commands.add_parser("check", help="parse the policy; explain one decision")
    check.add_argument("--user", help="user id (U…/W…)")
    check.add_argument("--pipeline", help="pipeline id or alias")
    check.add_argument("--channel", help="channel id (C…, G…, D…)")
    check.add_argument("--group", action="append", default=[], help="a group the user is in (S…)")
    check.add_argument(
        "--action",
        choices=("terminate", "pause", "resume"),
        default="terminate",
        help="the action to decide (terminate by default)",
    )

    return parser


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    command = args.command
    try:
        settings = load_settings(command=command)
    except ConfigError as exc:
        print("vs-terminate-bot: configuration problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        if command in {"serve", "socket"}:
            print(
                "Put them in the environment or in .env (start from .env.example; the README's "
                "'Install in a workspace' says where each comes from), or try the bot without a "
                "workspace: make sandbox",
                file=sys.stderr,
            )
        return EXIT_USAGE
    configure_logging(settings.log_level, settings.log_format, settings.secrets())
    try:
        return _run(args, settings)
    except ConfigError as exc:  # found only once Slack was asked (a refused app token)
        print("vs-terminate-bot: configuration problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    except PolicyFileError as exc:
        print("vs-terminate-bot: the policy file is invalid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    except BotError as exc:
        print(f"vs-terminate-bot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in {"serve", "socket"}:
        if not args.no_migrate:
            status = _migrate_apart()
            if status != EXIT_OK:
                return status
        return asyncio.run(_serve(settings, socket_mode=args.command == "socket"))
    if args.command == "migrate":
        _migrate(settings)
        print("database is at the latest schema")
        return EXIT_OK
    if args.command == "doctor":
        from bot.doctor import run_checks  # noqa: PLC0415 - only this command needs it

        checks = asyncio.run(run_checks(settings, manifest=Path("manifest.yml")))
        for check in checks:
            mark = "✓" if check.ok else ("!" if check.warning else "✗")
            hint = f" — {check.hint}" if check.hint and not check.ok else ""
            print(f"{mark} {check.name}: {check.detail}{hint}")
        return EXIT_OK if all(c.ok or c.warning for c in checks) else EXIT_FAILED
    if args.command == "audit":
        return asyncio.run(_audit(args, settings))
    if args.command == "policy":
        return _policy_check(args, settings)
    return EXIT_USAGE


def _migrate_apart() -> int:
    """`serve` and `socket` apply migrations in a child `migrate` process, same environment.

    Alembic (and the SQLAlchemy reflection it pulls in) takes about 12 MiB that the server
    would otherwise keep for its whole life: measured, an idle bot is 86 MiB after migrating in
    process. The child's errors reach stderr as they are; its exit status is the answer.
    """
    child = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"], stdout=subprocess.DEVNULL, check=False
    )
    return child.returncode


def _migrate(settings: Settings) -> None:
    from bot.audit.migrate import upgrade_to_head  # noqa: PLC0415 - alembic loads slowly

    upgrade_to_head(settings.database_url)


async def _serve(settings: Settings, *, socket_mode: bool) -> int:
    """Serve until SIGTERM or SIGINT, then shut down cleanly and return 0.

    uvicorn's own signal handling re-raises the signal once its server stops, which kills the
    process before the runtime can drain; here the signals only ask the server to stop, and the
    runtime then drains in-flight work (`bot.app.DRAIN_S`), closes the WebSocket with a close
    frame and releases everything before the process exits 0.
    """
    import uvicorn  # noqa: PLC0415

    from bot.app import open_runtime  # noqa: PLC0415

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the handlers below stop the server; nothing is re-raised afterwards

    async with open_runtime(settings, socket_mode=socket_mode) as runtime:
        config = uvicorn.Config(
            runtime.asgi,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
        server = Server(config)

        def stop(signum: signal.Signals) -> None:
            logger.info("%s: finishing in-flight work, then stopping", signum.name)
            server.should_exit = True

        # What startup built (modules, clients, the policy, Bolt's listeners) lives as long as
        # the process: frozen out of the collector's view, full collections stop re-walking it
        # (the use `gc.freeze` is documented for).
        gc.freeze()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, runtime.policy.reload)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop, signum)
        await server.serve()
    logger.info("stopped")
    return EXIT_OK


async def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from bot.audit.db import Database  # noqa: PLC0415
    from bot.audit.export import write_csv, write_jsonl  # noqa: PLC0415
    from bot.audit.repository import AuditRepository  # noqa: PLC0415

    database = Database.open(settings.database_url)
    try:
        key = settings.audit_hmac_key.get().encode() if settings.audit_hmac_key else None
        repository = AuditRepository(database, hmac_key=key, clock=lambda: datetime.now(UTC))
        if args.audit_command == "verify":
            result = await repository.verify()
            if result.ok:
                print(f"ok: {result.count} events verified, head {result.head or '(empty)'}")
                return EXIT_OK
            print(f"FAILED at event {result.bad_event_id}: {result.problem}", file=sys.stderr)
            return EXIT_FAILED
        records = await repository.export(
            since=args.since,
            until=args.until,
            pipeline=args.pipeline,
            run=args.run,
            user=args.user,
            outcome=args.outcome,
        )
        writer = write_csv if args.format == "csv" else write_jsonl
        writer(records, sys.stdout)
        return EXIT_OK
    finally:
        await database.close()


def _policy_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.domain import Action, Actor, ActorFacts, Where  # noqa: PLC0415
    from bot.policy import decide, describe, explain, load_policy  # noqa: PLC0415

    policy = load_policy(settings.policy_file)
    if not (args.user or args.pipeline or args.channel):
        print(f"{settings.policy_file}: valid")
        for line in describe(policy):
            print(line)
        return EXIT_OK
    if not (args.user and args.pipeline and args.channel):
        print("policy check: --user, --pipeline and --channel go together", file=sys.stderr)
        return EXIT_USAGE
    pipeline_id = policy.resolve_alias(args.pipeline) or args.pipeline
    decision = decide(
        policy,
        Actor(user_id=args.user),
        ActorFacts(groups=frozenset(args.group)),
        pipeline_id=pipeline_id,
        where=Where(channel_id=args.channel, is_dm=args.channel.startswith("D")),
        now=datetime.now(UTC),
        action=Action(args.action),
    )
    print("ALLOWED" if decision.allowed else "DENIED")
    for line in explain(decision):
        print(line)
    return EXIT_OK if decision.allowed else EXIT_FAILED
