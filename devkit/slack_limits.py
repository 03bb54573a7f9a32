"""Slack's Block Kit limits: the one check of every view and message the tests see.

`FakeSlack` runs every `views.*` and `chat.*` call and every response_url post through here,
and so can any test: `view_problems(view)` and `message_problems(text, blocks)` return each
violation as a readable string that ends in a JSON pointer, the way Slack words its own
refusals (`must be less than 3001 characters [json-pointer:/blocks/0/text/text]`). An empty
list means Slack would take the payload as far as these checks know.

Two layers, so that neither has to be trusted alone:

1. slack_sdk's models. The payload is parsed with `View`, `Block.parse` and friends, and the
   `JsonValidator`s of every parsed object are run, one at a time so that every failure is
   reported. That is what `validate_json()` runs, but `validate_json()` only checks the object
   it is called on: a `View` does not check its blocks, a block does not check its elements.
   slack_sdk also keeps option objects (radio buttons, static selects) as raw dicts, so their
   limits never run, and it has nothing for text objects' 1–3,000 characters, section field
   texts, radio button counts, message block counts, uniqueness of ids, `submit` in modals
   with inputs, `plain_text_input.max_length`, or a message's top-level `text`.
2. `LIMITS`, a table of Slack's documented limits, one row per limit with the page that states
   it. A row naming a slack_sdk validator is detected by slack_sdk (the row then only points at
   the exact field); every other row is checked by the walker in this module.

Whatever slack_sdk rejects that no row describes (an unknown block or element type, a block it
cannot construct, a confirm dialog's lengths, an overflow menu's 5 options, …) is reported with
slack_sdk's own message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeGuard

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block, BlockElement
from slack_sdk.models.views import View

__all__ = [
    "LIMITS",
    "Check",
    "Limit",
    "Problem",
    "check_message",
    "check_method",
    "check_response",
    "check_view",
    "message_problems",
    "method_problems",
    "response_problems",
    "sdk_validator_exists",
    "view_problems",
]

_REFERENCE: Final = "https://docs.slack.dev/reference/block-kit"
TEXT_OBJECT: Final = f"{_REFERENCE}/composition-objects/text-object"
OPTION_OBJECT: Final = f"{_REFERENCE}/composition-objects/option-object"
BLOCKS: Final = f"{_REFERENCE}/blocks"
SECTION_BLOCK: Final = f"{_REFERENCE}/blocks/section-block"
HEADER_BLOCK: Final = f"{_REFERENCE}/blocks/header-block"
CONTEXT_BLOCK: Final = f"{_REFERENCE}/blocks/context-block"
INPUT_BLOCK: Final = f"{_REFERENCE}/blocks/input-block"
BUTTON_ELEMENT: Final = f"{_REFERENCE}/block-elements/button-element"
PLAIN_TEXT_INPUT: Final = f"{_REFERENCE}/block-elements/plain-text-input-element"
RADIO_BUTTONS: Final = f"{_REFERENCE}/block-elements/radio-button-group-element"
STATIC_SELECT: Final = f"{_REFERENCE}/block-elements/select-menu-element#static_select"
MODAL_VIEW: Final = "https://docs.slack.dev/reference/views/modal-views"
# The Block Kit reference pages of these two were not in the search index; Slack's own type
# docs on docs.slack.dev state the same numbers and are cited instead.
ACTIONS_BLOCK: Final = (
    "https://docs.slack.dev/tools/node-slack-sdk/reference/types/interfaces/ActionsBlock"
)
PLACEHOLDABLE: Final = (
    "https://docs.slack.dev/tools/node-slack-sdk/reference/types/interfaces/Placeholdable"
)
PLAIN_TEXT_OPTION: Final = (
    "https://docs.slack.dev/tools/node-slack-sdk/reference/types/interfaces/PlainTextOption"
)
LONG_MESSAGES: Final = "https://api.slack.com/changelog/2018-04-truncating-really-long-messages"

_TEXT_TYPES: Final = frozenset({"plain_text", "mrkdwn"})
_ELEMENT_KEYS: Final = frozenset({"accessory", "element", "elements"})
_OPTION_KEYS: Final = frozenset({"options", "initial_option", "initial_options"})
_PARSE_ERRORS: Final = (
    SlackObjectFormationError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
)
"""What slack_sdk's constructors and validators raise on payloads of the wrong shape."""


class Check(StrEnum):
    """How a `Limit` row is checked against the value at its path."""

    CHARS = "characters"
    """A string of at most `maximum` characters."""
    ITEMS = "items"
    """An array of at most `maximum` items."""
    NUMBER = "number"
    """A number no greater than `maximum`."""
    NOT_EMPTY = "not empty"
    """A string of at least one character."""
    FITS = "fits"
    """A string no longer than the number in the sibling field `bound` (else `maximum`)."""
    UNIQUE = "unique"
    """No two nodes of the row's kind in one message or view share the value."""
    REQUIRED = "required"
    """The field must be present."""
    REQUIRED_WITH_INPUT = "required with an input block"
    """The field must be present when the view has an input block."""


@dataclass(frozen=True, slots=True)
class Limit:
    """One documented Block Kit limit.

    Attributes:
        name: What it limits, in words.
        kind: Where it applies: `message`, `view`, `view:modal`, `block`, `block:<type>`,
            `element`, `element:<type>`, `text_object` or `option`.
        path: The field, relative to a node of that kind; `*` stands for each array item.
        check: How the value is checked.
        maximum: The documented maximum (characters, items or value); None for the presence,
            uniqueness and non-empty rules.
        source: The page that documents it.
        slack_sdk: `Class._validator` when slack_sdk's models check it; None when only this
            module's walker does.
        bound: For `Check.FITS`, the sibling field whose number bounds the value.
    """

    name: str
    kind: str
    path: str
    check: Check
    maximum: int | None
    source: str
    slack_sdk: str | None = None
    bound: str | None = None


# A table reads best as one row per limit, so the formatter leaves it alone.
# fmt: off
_CHARS, _ITEMS, _NUMBER = Check.CHARS, Check.ITEMS, Check.NUMBER
LIMITS: Final[tuple[Limit, ...]] = (
    # -- messages and views
    # Slack truncates longer text (with a warning) instead of refusing it; tests treat a
    # truncated message as a bug all the same.
    Limit("message text", "message", "text", _CHARS, 40_000, LONG_MESSAGES),
    Limit("blocks per message", "message", "blocks", _ITEMS, 50, BLOCKS),
    Limit("blocks per view", "view", "blocks", _ITEMS, 100, MODAL_VIEW,
          "View._validate_blocks_length"),
    Limit("view blocks", "view", "blocks", Check.REQUIRED, None, MODAL_VIEW),
    Limit("view private_metadata", "view", "private_metadata", _CHARS, 3000, MODAL_VIEW,
          "View._validate_private_metadata_max_length"),
    Limit("view callback_id", "view", "callback_id", _CHARS, 255, MODAL_VIEW,
          "View._validate_callback_id_max_length"),
    Limit("modal title", "view:modal", "title", Check.REQUIRED, None, MODAL_VIEW),
    Limit("modal title text", "view:modal", "title/text", _CHARS, 24, MODAL_VIEW,
          "View._validate_title_length"),
    Limit("modal submit text", "view:modal", "submit/text", _CHARS, 24, MODAL_VIEW,
          "View._validate_submit_length"),
    Limit("modal close text", "view:modal", "close/text", _CHARS, 24, MODAL_VIEW,
          "View._validate_close_length"),
    Limit("modal submit with inputs", "view:modal", "submit", Check.REQUIRED_WITH_INPUT, None,
          MODAL_VIEW),
    # -- every block, element and text object
    Limit("block_id", "block", "block_id", _CHARS, 255, SECTION_BLOCK,
          "Block._validate_block_id_length"),
    # The input block's page says unique "for each message or view", the other blocks' pages
    # "for each message and each iteration of a message": per message or view holds for both.
    Limit("block_id unique", "block", "block_id", Check.UNIQUE, None, INPUT_BLOCK),
    Limit("action_id", "element", "action_id", _CHARS, 255, BUTTON_ELEMENT,
          "InteractiveElement._validate_action_id_length"),
    # Element pages ask for action_ids unique "among all other action_ids in the containing
    # block"; Bolt routes on action_id alone, so the stricter rule is checked: unique per
    # message or view.
    Limit("action_id unique", "element", "action_id", Check.UNIQUE, None, BUTTON_ELEMENT),
    Limit("text object text", "text_object", "text", _CHARS, 3000, TEXT_OBJECT),
    # slack_sdk checks the minimum only for raw_text and numeric text objects.
    Limit("text object text minimum", "text_object", "text", Check.NOT_EMPTY, None, TEXT_OBJECT),
    # -- blocks
    Limit("section text", "block:section", "text/text", _CHARS, 3000, SECTION_BLOCK,
          "SectionBlock._validate_alt_text_length"),
    Limit("section fields", "block:section", "fields", _ITEMS, 10, SECTION_BLOCK,
          "SectionBlock._validate_fields_length"),
    Limit("section field text", "block:section", "fields/*/text", _CHARS, 2000, SECTION_BLOCK),
    Limit("header text", "block:header", "text/text", _CHARS, 150, HEADER_BLOCK,
          "HeaderBlock._validate_alt_text_length"),
    Limit("context elements", "block:context", "elements", _ITEMS, 10, CONTEXT_BLOCK,
          "ContextBlock._validate_elements_length"),
    # Older api.slack.com pages (and libraries copied from them) say 5; Slack's current docs
    # and slack_sdk (since PR #1253) agree on 25.
    Limit("actions elements", "block:actions", "elements", _ITEMS, 25, ACTIONS_BLOCK,
          "ActionsBlock._validate_elements_length"),
    Limit("input label", "block:input", "label/text", _CHARS, 2000, INPUT_BLOCK,
          "InputBlock._validate_label_length"),
    Limit("input hint", "block:input", "hint/text", _CHARS, 2000, INPUT_BLOCK,
          "InputBlock._validate_hint_length"),
    # -- elements
    Limit("button text", "element:button", "text/text", _CHARS, 75, BUTTON_ELEMENT,
          "ButtonElement._validate_text_length"),
    Limit("button value", "element:button", "value", _CHARS, 2000, BUTTON_ELEMENT,
          "ButtonElement._validate_value_length"),
    Limit("button url", "element:button", "url", _CHARS, 3000, BUTTON_ELEMENT,
          "ButtonElement._validate_url_length"),
    Limit("placeholder", "element", "placeholder/text", _CHARS, 150, PLACEHOLDABLE,
          "InputInteractiveElement._validate_placeholder_length"),
    Limit("plain_text_input max_length", "element:plain_text_input", "max_length", _NUMBER,
          3000, PLAIN_TEXT_INPUT),
    Limit("plain_text_input min_length", "element:plain_text_input", "min_length", _NUMBER,
          3000, PLAIN_TEXT_INPUT),
    # The page gives initial_value no length of its own; one longer than max_length (or than
    # the 3,000 max_length can be at most) could never be submitted.
    Limit("plain_text_input initial_value", "element:plain_text_input", "initial_value",
          Check.FITS, 3000, PLAIN_TEXT_INPUT, bound="max_length"),
    Limit("radio_buttons options", "element:radio_buttons", "options", _ITEMS, 10,
          RADIO_BUTTONS),
    Limit("static_select options", "element:static_select", "options", _ITEMS, 100,
          STATIC_SELECT, "StaticSelectElement._validate_options_length"),
    # -- options of select menus, radio buttons, checkboxes and overflow menus
    # Radio buttons and checkboxes may use mrkdwn option text where menus need plain_text,
    # but the page gives every option's text the same 75 characters.
    Limit("option text", "option", "text/text", _CHARS, 75, OPTION_OBJECT),
    Limit("option description", "option", "description/text", _CHARS, 75, OPTION_OBJECT),
    # The option object page says 150; Slack's type docs for the same field say 75. The
    # stricter wins.
    Limit("option value", "option", "value", _CHARS, 75, PLAIN_TEXT_OPTION),
)
# fmt: on
"""Slack's documented Block Kit limits, one row per limit; see `Limit`."""

_SDK_ROWS: Final[dict[str, Limit]] = {row.slack_sdk: row for row in LIMITS if row.slack_sdk}


@dataclass(frozen=True, slots=True)
class Problem:
    """One violation.

    Attributes:
        pointer: The JSON pointer of the offending field, from the payload's root.
        message: What is wrong, in Slack's words where Slack has any.
        limit: The row it breaks, or None when only slack_sdk explains it.
    """

    pointer: str
    message: str
    limit: Limit | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.message} [json-pointer:{self.pointer}]"


# -- public API --------------------------------------------------------------------------------


def view_problems(view: Mapping[str, Any], *, at: str = "") -> list[str]:
    """Checks a view (modal or Home tab) against slack_sdk and `LIMITS`.

    Args:
        view: The `view` argument of `views.open`/`views.push`/`views.update`, or the view of a
            `response_action: update` ack.
        at: The pointer of the view in its request (`/view` as Slack reports it); "" makes
            pointers relative to the view.

    Returns:
        Every violation, e.g. `must be less than 25 characters [json-pointer:/view/title/text]`;
        empty when the view is within the limits.
    """
    return [str(problem) for problem in check_view(view, at=at)]


def message_problems(
    text: str | None, blocks: object, *, attachments: object = None, at: str = ""
) -> list[str]:
    """Checks a message (posted, updated, ephemeral or sent to a response_url).

    Args:
        text: The top-level `text`; None when it is not sent (a `chat.update` keeping it).
        blocks: The `blocks` array; None when it is not sent.
        attachments: The `attachments` array, whose blocks are checked like the message's.
        at: The pointer of the message in its request; "" for a request that is the message.

    Returns:
        Every violation, e.g. `must be less than 2001 characters
        [json-pointer:/blocks/0/fields/0/text]`; empty when the message is within the limits.
    """
    return [str(p) for p in check_message(text, blocks, attachments=attachments, at=at)]


def response_problems(payload: Mapping[str, Any]) -> list[str]:
    """Checks a response_url post (`replace_original`, `in_channel`, ephemeral, …).

    Args:
        payload: The JSON body posted to the response_url.

    Returns:
        Every violation; empty for a `delete_original`, which carries no content.
    """
    return [str(problem) for problem in check_response(payload)]


def method_problems(method: str, args: Mapping[str, Any]) -> list[str]:
    """Checks the arguments of a Web API call that carries a view or a message.

    `chat.postMessage`, `chat.postEphemeral` and `chat.update` are checked as messages
    (`chat.update` only for the fields it sends), `views.open`, `views.push` and
    `views.update` as views under `/view`; other methods have nothing to check.

    Args:
        method: The Web API method.
        args: Its arguments, with JSON-string fields (`blocks`, `view`) already decoded.

    Returns:
        Every violation; empty when within the limits or nothing is checked.
    """
    return [str(problem) for problem in check_method(method, args)]


def check_view(view: Mapping[str, Any], *, at: str = "") -> list[Problem]:
    """Like `view_problems`, as `Problem`s (pointer, message and the row broken)."""
    walk = _Walk()
    kinds = {"view", f"view:{view.get('type', '')}"}
    walk.visit(view, at, kinds)
    walk.problems.extend(_sdk_view(view, at))
    return walk.result()


def check_message(
    text: str | None, blocks: object, *, attachments: object = None, at: str = ""
) -> list[Problem]:
    """Like `message_problems`, as `Problem`s."""
    message: dict[str, Any] = {}
    if text is not None:
        message["text"] = text if isinstance(text, str) else str(text)
    walk = _Walk()
    for name, value in (("blocks", blocks), ("attachments", attachments)):
        if value is None:
            continue
        if isinstance(value, list):
            message[name] = value
        else:
            walk.problems.append(Problem(f"{at}/{name}", f"must be an array of {name}"))
    walk.visit(message, at, {"message"})
    for name, pointer, items in _block_lists(message, at):
        del name
        walk.problems.extend(_sdk_blocks(items, pointer))
    return walk.result()


def check_response(payload: Mapping[str, Any]) -> list[Problem]:
    """Like `response_problems`, as `Problem`s."""
    if payload.get("delete_original") in (True, "true"):
        return []
    return check_message(
        payload.get("text"), payload.get("blocks"), attachments=payload.get("attachments")
    )


def check_method(method: str, args: Mapping[str, Any]) -> list[Problem]:
    """Like `method_problems`, as `Problem`s."""
    if method in ("views.open", "views.push", "views.update"):
        view = args.get("view")
        return check_view(view, at="/view") if isinstance(view, Mapping) else []
    if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
        return check_message(
            args.get("text"), args.get("blocks"), attachments=args.get("attachments")
        )
    return []


# -- layer (b): the walker over LIMITS ---------------------------------------------------------


def _kinds(node: Mapping[str, Any], key: str, parent: frozenset[str]) -> set[str]:
    """The kinds (see `Limit.kind`) of a node found under `key` in a node of `parent` kinds."""
    node_type = node.get("type")
    if node_type in _TEXT_TYPES:
        return {"text_object"}
    if key == "blocks":
        return {"block", f"block:{node_type}"}
    if key in _ELEMENT_KEYS and any(kind.startswith("block") for kind in parent):
        return {"element", f"element:{node_type}"}
    if key in _OPTION_KEYS and any(kind.startswith(("element", "option_group")) for kind in parent):
        return {"option"}
    if key == "option_groups":
        return {"option_group"}
    return set()


@dataclass
class _Walk:
    """One pass of `LIMITS` over a payload; uniqueness is tracked across the whole payload."""

    problems: list[Problem] = field(default_factory=list)
    seen: dict[tuple[str, str], str] = field(default_factory=dict)

    def visit(self, node: Mapping[str, Any], pointer: str, kinds: set[str]) -> None:
        for limit in LIMITS:
            if limit.kind in kinds and limit.slack_sdk is None:
                self.problems.extend(self.check(limit, node, pointer))
        frozen = frozenset(kinds)
        for child_key, child in node.items():
            child_pointer = f"{pointer}/{_escape(child_key)}"
            if isinstance(child, Mapping):
                self.visit(child, child_pointer, _kinds(child, child_key, frozen))
            elif isinstance(child, list):
                for index, item in enumerate(child):
                    if isinstance(item, Mapping):
                        item_kinds = _kinds(item, child_key, frozen)
                        self.visit(item, f"{child_pointer}/{index}", item_kinds)

    def check(self, limit: Limit, node: Mapping[str, Any], pointer: str) -> Iterator[Problem]:
        """Checks one row against one node of its kind."""
        missing = f"{pointer}/{_escape(limit.path)}"
        if limit.check is Check.REQUIRED:
            if node.get(limit.path) is None:
                yield Problem(missing, f"missing required field: {limit.path}", limit)
            return
        if limit.check is Check.REQUIRED_WITH_INPUT:
            blocks = node.get("blocks")
            has_input = isinstance(blocks, list) and any(
                isinstance(b, Mapping) and b.get("type") == "input" for b in blocks
            )
            if has_input and node.get(limit.path) is None:
                message = f"missing required field: {limit.path} (the view has an input block)"
                yield Problem(missing, message, limit)
            return
        for where, value in _resolve(node, limit.path.split("/"), pointer):
            problem = self.check_value(limit, node, where, value)
            if problem is not None:
                yield problem

    def check_value(
        self, limit: Limit, node: Mapping[str, Any], pointer: str, value: object
    ) -> Problem | None:
        maximum = limit.maximum or 0
        match limit.check:
            case Check.CHARS if isinstance(value, str) and len(value) > maximum:
                return Problem(pointer, f"must be less than {maximum + 1} characters", limit)
            case Check.ITEMS if isinstance(value, list) and len(value) > maximum:
                return Problem(pointer, f"no more than {maximum} items allowed", limit)
            case Check.NOT_EMPTY if isinstance(value, str) and not value:
                return Problem(pointer, "must be more than 0 characters", limit)
            case Check.NUMBER if _is_number(value) and value > maximum:
                return Problem(pointer, f"must be no greater than {maximum}", limit)
            case Check.FITS if isinstance(value, str):
                bound = node.get(limit.bound or "")
                allowed = min(bound, maximum) if _is_number(bound) else maximum
                if len(value) > allowed:
                    message = f"must be less than {allowed + 1} characters ({limit.bound})"
                    return Problem(pointer, message, limit)
            case Check.UNIQUE if isinstance(value, str):
                first = self.seen.setdefault((limit.path, value), pointer)
                if first != pointer:
                    message = f"duplicate {limit.path} {value!r}, first used at {first}"
                    return Problem(pointer, message, limit)
        return None

    def result(self) -> list[Problem]:
        unique = list(dict.fromkeys(self.problems))
        return sorted(unique, key=lambda problem: _pointer_key(problem.pointer))


def _resolve(node: object, path: list[str], pointer: str) -> Iterator[tuple[str, object]]:
    """The values at `path` below `node` (`*` for each array item), with their pointers."""
    if not path:
        yield pointer, node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _resolve(item, rest, f"{pointer}/{index}")
    elif isinstance(node, Mapping) and node.get(head) is not None:
        yield from _resolve(node[head], rest, f"{pointer}/{_escape(head)}")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _escape(key: object) -> str:
    """A JSON pointer reference token (RFC 6901)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _pointer_key(pointer: str) -> list[tuple[int, int | str]]:
    """Sorts pointers in document order: array indexes as numbers."""
    return [(0, int(t)) if t.isdigit() else (1, t) for t in pointer.split("/")]


def _block_lists(message: Mapping[str, Any], at: str) -> Iterator[tuple[str, str, list[Any]]]:
    """The message's block arrays: its own and each attachment's."""
    blocks = message.get("blocks")
    if isinstance(blocks, list):
        yield "blocks", f"{at}/blocks", blocks
    for index, attachment in enumerate(message.get("attachments") or []):
        if isinstance(attachment, Mapping) and isinstance(attachment.get("blocks"), list):
            yield "attachment", f"{at}/attachments/{index}/blocks", attachment["blocks"]


# -- layer (a): slack_sdk's models -------------------------------------------------------------


def _sdk_view(view: Mapping[str, Any], at: str) -> list[Problem]:
    """Parses the view with slack_sdk and runs every validator of the view and its blocks."""
    blocks = view.get("blocks")
    block_list = blocks if isinstance(blocks, list) else []
    problems = _sdk_blocks(block_list, f"{at}/blocks")
    # Blocks are parsed one by one above, so that a malformed block is reported at its own
    # pointer instead of making the whole view unreadable.
    fields = {key: value for key, value in view.items() if key != "blocks"}
    try:
        model = View(**fields)
    except _PARSE_ERRORS as exc:
        return [*problems, Problem(at or "/", f"slack_sdk cannot read this view: {exc}")]
    # View's validators only count the blocks, which were checked one by one above. Missing
    # blocks stay None so that the `view blocks` row alone reports them, not slack_sdk as well.
    model.blocks = blocks if isinstance(blocks, list) else None  # type: ignore[assignment]
    problems.extend(_sdk_validate(model, view, at))
    for name in ("title", "submit", "close"):
        part = getattr(model, name, None)
        if isinstance(part, JsonObject):
            problems.extend(_sdk_tree(part, view.get(name), f"{at}/{name}"))
    return problems


def _sdk_blocks(blocks: list[Any], at: str) -> list[Problem]:
    problems: list[Problem] = []
    for index, raw in enumerate(blocks):
        pointer = f"{at}/{index}"
        if not isinstance(raw, dict):
            problems.append(Problem(pointer, "must be a block object"))
            continue
        try:
            block = Block.parse(raw)
        except _PARSE_ERRORS as exc:
            problems.append(Problem(pointer, f"slack_sdk cannot read this block: {exc}"))
            continue
        if block is None:
            problems.append(Problem(pointer, f"unknown block type {raw.get('type')!r}"))
            continue
        problems.extend(_sdk_tree(block, raw, pointer))
    return problems


def _sdk_tree(model: JsonObject, raw: object, pointer: str) -> Iterator[Problem]:
    """Runs the validators of `model` and of every slack_sdk object below it."""
    yield from _sdk_validate(model, raw, pointer)
    raw_map = raw if isinstance(raw, Mapping) else {}
    for name in sorted(model.attributes):
        value = getattr(model, name, None)
        raw_value = raw_map.get(name)
        child_pointer = f"{pointer}/{_escape(name)}"
        if isinstance(value, JsonObject):
            yield from _sdk_tree(value, raw_value, child_pointer)
        elif isinstance(value, list | tuple):
            raw_items = raw_value if isinstance(raw_value, list) else []
            for index, item in enumerate(value):
                raw_item = raw_items[index] if index < len(raw_items) else None
                if isinstance(item, JsonObject):
                    yield from _sdk_tree(item, raw_item, f"{child_pointer}/{index}")
                elif item is None and isinstance(raw_item, Mapping):
                    # slack_sdk's parse_all leaves None where it knows no such element type.
                    message = f"unknown element type {raw_item.get('type')!r}"
                    yield Problem(f"{child_pointer}/{index}", message)


def _sdk_validate(model: JsonObject, raw: object, pointer: str) -> Iterator[Problem]:
    """Runs each of `model`'s own JsonValidators (what `validate_json()` runs), all of them."""
    raw_map = raw if isinstance(raw, Mapping) else {}
    for owner, name in _validators(type(model)):
        try:
            getattr(model, name)()
        except SlackObjectFormationError as exc:
            yield from _explain(f"{owner}.{name}", str(exc), raw_map, pointer)
        except _PARSE_ERRORS as exc:
            yield Problem(pointer, f"slack_sdk could not check {owner}.{name}: {exc}")


def _explain(
    validator: str, message: str, raw: Mapping[str, Any], pointer: str
) -> Iterator[Problem]:
    """Turns a slack_sdk failure into the row it breaks, at the exact field when there is one."""
    row = _SDK_ROWS.get(validator)
    found = list(_Walk().check(row, raw, pointer)) if row is not None else []
    if found:
        yield from found
    else:
        # slack_sdk knows a rule no row describes (or words a row differently, e.g. a title of
        # 0 characters): its own message, at the object it checked.
        yield Problem(pointer or "/", message)


def _validators(cls: type) -> list[tuple[str, str]]:
    """`(defining class, method)` of every JsonValidator a slack_sdk model class has."""
    found: list[tuple[str, str]] = []
    for name in sorted(dir(cls)):
        if name.startswith("__") or not hasattr(getattr(cls, name, None), "validator"):
            continue
        owner = next(c for c in cls.__mro__ if name in vars(c))
        found.append((owner.__name__, name))
    return found


def sdk_validator_exists(dotted: str) -> bool:
    """True if `Class._validator` names a JsonValidator in slack_sdk's block and view models.

    Args:
        dotted: A `Limit.slack_sdk` value.

    Returns:
        Whether slack_sdk (still) has it; a rename upstream would silently drop a check.
    """
    class_name, _, method = dotted.partition(".")
    for cls in _model_classes():
        if cls.__name__ == class_name:
            return hasattr(getattr(cls, method, None), "validator")
    return False


def _model_classes() -> Iterator[type]:
    yield View
    seen: set[type] = set()
    stack: list[type] = [Block, BlockElement]
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.add(cls)
            yield cls
            stack.extend(cls.__subclasses__())
