"""The use cases of one attempt at an action on a run, whatever the action.

    lifecycle   Attempt, Outcome, Source, AUDIT_FIELDS, TRANSITIONS, the typed changes, apply()
    ports       VectorShiftPort, AuditPort, DirectoryPort (Protocols)
    context     AttemptContext: ports, seams, caches; pipeline resolution and fresh decisions
    confirm     precheck, prepare, check_submission          (ack path and modal)
    execute     submit, re-check, call, verify, finish        (one saga for every action)
    approve     approve, reject, expire, waiting_on            (the two-person rule, §4.6)
    upkeep      abandon, heartbeats, reconciliation, retry
    queries     can-i, status, history                        (read only)

An attempt's states and the changes that move it; `lifecycle.TRANSITIONS` is the table, this is
its picture (tests/unit/attempts/test_lifecycle.py holds the two together):

    (none)
    ├── started ──▶ denied | failed | already_finished | duplicate
    └── started ──▶ awaiting_confirmation
                    ├── abandoned ─▶ abandoned
                    ├── requested ─▶ awaiting_approval
                    │                ├── request_posted ─▶ awaiting_approval
                    │                ├── approved ───────▶ awaiting_approval | pending ──┐
                    │                ├── rejected ───────▶ rejected                      │
                    │                ├── expired ────────▶ expired                       │
                    │                └── blocked ────────▶ duplicate                     │
                    └── submitted ─▶ pending ◀─────────────────────────────────────────────┘
                                     ├── finished ───▶ succeeded | unconfirmed | failed
                                     │                 | already_finished | denied | duplicate
                                     └── reconciled ─▶ succeeded | unconfirmed

An approval moves the request to `pending` once enough distinct approvers agreed; from there
it is the same saga as an action confirmed without approval (`execute.run`).

Use cases are functions taking an `AttemptContext` (cosmicpython's handlers); they know nothing
of Slack, SQL or HTTP, and their unit tests run on in-memory ports.
"""
