"""Block Kit as HTML that looks like Slack: the pages `make pictures` screenshots.

Pure functions, no I/O. `message_page` draws a message the way a channel shows it (the app's
avatar and name, an APP badge, the time, the blocks); `modal_page` draws a modal over a dimmed
window (title bar, blocks, Close and Submit). `blocks_html` and `mrkdwn_html` are the parts, for
tests and for pages of other shapes.

What is drawn is what Slack would draw from the JSON, whatever the bot's wording: `mrkdwn` gets
`*bold*`, `_italic_`, `~strike~`, `` `code` ``, ```` ```preformatted``` ````, mentions named
through an `Audience` (`<@U…>` → @alice, `<#C…>` → #incidents, `<!subteam^S…>` →
@data-oncall), `<url|label>` links and the emoji the bot uses; `plain_text` is shown verbatim
(its emoji codes only when it says `"emoji": true`, as Slack does). Every character that came
from the payload is HTML-escaped, and each page forbids scripts and every outside resource
through its Content-Security-Policy, so a page that rendered wrongly still runs nothing and
needs no network. Blocks and elements the renderer does not know are drawn as a dashed box
naming their type, so a picture never hides that something is missing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from devkit.render import EMOJI, Audience

__all__ = [
    "APP_NAME",
    "PAGE_WIDTH_PX",
    "Audience",
    "blocks_html",
    "call_page",
    "emoji_html",
    "message_page",
    "modal_page",
    "mrkdwn_html",
    "slack_time",
    "text_html",
]

APP_NAME: Final = "vs-terminate"
PAGE_WIDTH_PX: Final = 720
"""The width every page is laid out for (and screenshotted at)."""

_CONTROL: Final = re.compile(r"<([^<>]*)>")
_CODE_BLOCK: Final = re.compile(r"```(.+?)```", re.DOTALL)
_CODE: Final = re.compile(r"`([^`\n]+)`")
_BOLD: Final = re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])")
_ITALIC: Final = re.compile(r"(?<![\w_])_(\S(?:[^_\n]*\S)?)_(?![\w_])")
_STRIKE: Final = re.compile(r"(?<![\w~])~(\S(?:[^~\n]*\S)?)~(?![\w~])")
_EMOJI_CODE: Final = re.compile(r":([a-z0-9_+-]+):")
_URL: Final = re.compile(r"(?:https?://|mailto:)\S+")
_USER_ID: Final = re.compile(r"[UW][A-Z0-9]+")
_CHANNEL_ID: Final = re.compile(r"[CGD][A-Z0-9]+")
_GROUP_ID: Final = re.compile(r"S[A-Z0-9]+")

# Private-use characters stand in for pieces already rendered to HTML (mentions, links, code)
# while the text around them is escaped and formatted; input is stripped of them first, so a
# payload cannot forge one.
_OPEN: Final = "\ue000"
_CLOSE: Final = "\ue001"
_HOLE: Final = re.compile(f"{_OPEN}(\\d+){_CLOSE}")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _unescape_slack(text: str) -> str:
    """Slack's three entities back to characters (Slack decodes these and only these)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def emoji_html(name: str, unicode: str | None = None) -> str:
    """An emoji by shortcode: the character when known, else `:name:` as Slack shows unknown ones.

    Args:
        name: The shortcode without colons (`white_check_mark`).
        unicode: A rich_text emoji element's code points (`2705`, `1f1e9-1f1ea`), if given.

    Returns:
        HTML: a span holding the emoji, or the escaped `:name:`.
    """
    char = EMOJI.get(name)
    if char is None and unicode:
        try:
            char = "".join(chr(int(point, 16)) for point in unicode.split("-"))
        except (ValueError, OverflowError):
            char = None
    if char is None:
        return _esc(f":{name}:")
    return f'<span class="emoji" title=":{_esc(name)}:">{_esc(char)}</span>'


def _emoji_codes(escaped: str) -> str:
    """Shortcodes in already-escaped text to emoji (`:` and the names survive escaping)."""
    return _EMOJI_CODE.sub(lambda m: emoji_html(m[1]) if m[1] in EMOJI else m[0], escaped)


def _mention(label: str, kind: str = "mention") -> str:
    return f'<span class="{kind}">{_esc(label)}</span>'


def _control_html(inner: str, names: Audience) -> str:
    """One `<…>` sequence of mrkdwn: a mention, a link, or (unknown) the literal text."""
    target, _, label = inner.partition("|")
    label = _unescape_slack(label)
    if target.startswith("@") and _USER_ID.fullmatch(target[1:]):
        return _mention(f"@{label}" if label else names.user(target[1:]))
    if target.startswith("#") and _CHANNEL_ID.fullmatch(target[1:]):
        return _mention(f"#{label}" if label else names.channel(target[1:]))
    if target.startswith("!subteam^") and _GROUP_ID.fullmatch(target[9:]):
        shown = label if label.startswith("@") else f"@{label}" if label else None
        return _mention(shown or names.group(target[9:]))
    if target in {"!here", "!channel", "!everyone"}:
        return _mention(f"@{target[1:]}", "mention broadcast")
    if target.startswith("!date^"):
        return _esc(label or target)
    if _URL.fullmatch(target):
        url = _unescape_slack(target)
        return f'<a href="{_esc(url)}">{_esc(label or url)}</a>'
    # Not a sequence Slack acts on (e.g. `javascript:`): shown as the characters it is.
    return _esc(_unescape_slack(f"<{inner}>"))


def mrkdwn_html(text: str, names: Audience) -> str:
    """A `mrkdwn` string as Slack shows it, as HTML.

    Args:
        text: The mrkdwn (with Slack's `&lt;` `&gt;` `&amp;` escapes, as the bot sends it).
        names: Names for mentioned users, channels and user groups.

    Returns:
        Escaped HTML with mentions, links, formatting and emoji drawn; newlines are kept for the
        page's `white-space: pre-wrap`.
    """
    holes: list[str] = []

    def hole(rendered: str) -> str:
        holes.append(rendered)
        return f"{_OPEN}{len(holes) - 1}{_CLOSE}"

    text = text.replace(_OPEN, "").replace(_CLOSE, "")
    text = _CONTROL.sub(lambda m: hole(_control_html(m[1], names)), text)
    text = _unescape_slack(text)
    # Code first: nothing inside it is formatted, and its `*` must not pair with one outside.
    text = _CODE_BLOCK.sub(lambda m: hole(f"<pre>{_esc(m[1].strip(chr(10)))}</pre>"), text)
    text = _CODE.sub(lambda m: hole(f"<code>{_esc(m[1])}</code>"), text)
    text = _esc(text)
    text = _BOLD.sub(r"<b>\1</b>", text)
    text = _ITALIC.sub(r"<i>\1</i>", text)
    text = _STRIKE.sub(r"<s>\1</s>", text)
    text = _emoji_codes(text)
    # A code hole may hold a mention's hole (`` `<@U1>` ``), whose number is smaller: fill
    # them in order, so each one is complete before a later one takes it in.
    for index in range(len(holes)):
        holes[index] = _HOLE.sub(lambda m: holes[int(m[1])], holes[index])
    return _HOLE.sub(lambda m: holes[int(m[1])], text)


def text_html(obj: object, names: Audience) -> str:
    """A text object (`plain_text` or `mrkdwn`) as HTML; anything else as an empty string.

    Args:
        obj: The text object.
        names: Names for mentions (mrkdwn only).

    Returns:
        Escaped HTML. plain_text is verbatim: no mentions, links, entities or formatting, and
        emoji codes only when the object has `"emoji": true`.
    """
    if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
        return ""
    text = str(obj["text"])
    if obj.get("type") == "mrkdwn":
        return mrkdwn_html(text, names)
    escaped = _esc(text)
    return _emoji_codes(escaped) if obj.get("emoji") else escaped


# -- rich_text ---------------------------------------------------------------------------------


def _styled(inner: str, style: object) -> str:
    if not isinstance(style, Mapping):
        return inner
    for key, tag in (("code", "code"), ("strike", "s"), ("italic", "i"), ("bold", "b")):
        if style.get(key):
            inner = f"<{tag}>{inner}</{tag}>"
    return inner


def _rich_element(item: object, names: Audience) -> str:
    if not isinstance(item, Mapping):
        return ""
    kind = item.get("type")
    if kind == "text":
        return _styled(_esc(str(item.get("text", ""))), item.get("style"))
    if kind == "user":
        return _styled(_mention(names.user(str(item.get("user_id", "")))), item.get("style"))
    if kind == "channel":
        return _styled(_mention(names.channel(str(item.get("channel_id", "")))), item.get("style"))
    if kind == "usergroup":
        return _mention(names.group(str(item.get("usergroup_id", ""))))
    if kind == "broadcast":
        return _mention(f"@{item.get('range', 'here')}", "mention broadcast")
    if kind == "emoji":
        unicode = item.get("unicode")
        return emoji_html(str(item.get("name", "")), unicode if isinstance(unicode, str) else None)
    if kind == "link":
        url = str(item.get("url", ""))
        label = _esc(str(item.get("text") or url))
        if not _URL.fullmatch(url):
            return _styled(label, item.get("style"))
        return f'<a href="{_esc(url)}">{_styled(label, item.get("style"))}</a>'
    return _unknown(f"rich_text element {kind!r}")


def _rich_line(node: object, names: Audience) -> str:
    items = node.get("elements") if isinstance(node, Mapping) else None
    return "".join(_rich_element(item, names) for item in items or [])


def _rich_text(block: Mapping[str, Any], names: Audience) -> str:
    parts: list[str] = []
    for node in block.get("elements") or []:
        if not isinstance(node, Mapping):
            continue
        kind = node.get("type")
        if kind == "rich_text_list":
            tag = "ol" if node.get("style") == "ordered" else "ul"
            indent = node.get("indent")
            indent = indent if isinstance(indent, int) else 0
            items = "".join(f"<li>{_rich_line(i, names)}</li>" for i in node.get("elements") or [])
            parts.append(
                f'<{tag} class="rt-list" style="margin-left:{18 * indent}px">{items}</{tag}>'
            )
        elif kind == "rich_text_preformatted":
            parts.append(f"<pre>{_rich_line(node, names)}</pre>")
        elif kind == "rich_text_quote":
            parts.append(f"<blockquote>{_rich_line(node, names)}</blockquote>")
        else:
            parts.append(f'<div class="rt-section">{_rich_line(node, names)}</div>')
    return f'<div class="block rich-text">{"".join(parts)}</div>'


# -- interactive elements ----------------------------------------------------------------------


def _button(element: Mapping[str, Any], names: Audience) -> str:
    style = element.get("style")
    kind = style if style in {"primary", "danger"} else "default"
    label = text_html(element.get("text"), names)
    return f'<span class="button button-{kind}" role="button">{label}</span>'


def _option_key(option: object) -> object:
    return option.get("value") if isinstance(option, Mapping) else None


def _choices(element: Mapping[str, Any], names: Audience, *, multiple: bool) -> str:
    """radio_buttons and checkboxes: one row per option, the initial ones selected."""
    if multiple:
        initial = element.get("initial_options")
        chosen = {_option_key(o) for o in initial} if isinstance(initial, list) else set()
    else:
        chosen = {_option_key(element.get("initial_option"))} - {None}
    kind = "checkbox" if multiple else "radio"
    rows = []
    for option in element.get("options") or []:
        if not isinstance(option, Mapping):
            continue
        selected = _option_key(option) in chosen
        description = text_html(option.get("description"), names)
        rows.append(
            f'<div class="option{" selected" if selected else ""}">'
            f'<span class="{kind}{" on" if selected else ""}"></span>'
            f'<span class="option-text">{text_html(option.get("text"), names)}'
            + (f'<span class="option-description">{description}</span>' if description else "")
            + "</span></div>"
        )
    return f'<div class="choices">{"".join(rows)}</div>'


def _select(element: Mapping[str, Any], names: Audience) -> str:
    initial = element.get("initial_option")
    if isinstance(initial, Mapping):
        shown = f'<span class="value">{text_html(initial.get("text"), names)}</span>'
    else:
        placeholder = text_html(element.get("placeholder"), names) or "Select an item"
        shown = f'<span class="placeholder">{placeholder}</span>'
    return f'<div class="select">{shown}<span class="chevron">⌄</span></div>'


def _text_input(element: Mapping[str, Any], names: Audience) -> str:
    value = element.get("initial_value")
    if isinstance(value, str) and value:
        shown = f'<span class="value">{_esc(value)}</span>'
    else:
        shown = f'<span class="placeholder">{text_html(element.get("placeholder"), names)}</span>'
    tall = " multiline" if element.get("multiline") else ""
    return f'<div class="text-input{tall}">{shown}</div>'


def _element(element: object, names: Audience) -> str:
    """One interactive element (actions blocks, accessories, inputs)."""
    if not isinstance(element, Mapping):
        return ""
    kind = element.get("type")
    if kind == "button":
        return _button(element, names)
    if kind == "radio_buttons":
        return _choices(element, names, multiple=False)
    if kind == "checkboxes":
        return _choices(element, names, multiple=True)
    if kind in {"static_select", "external_select", "users_select", "conversations_select"}:
        return _select(element, names)
    if kind == "plain_text_input":
        return _text_input(element, names)
    return _unknown(f"element {kind!r}")


def _unknown(what: str) -> str:
    return f'<div class="unknown">[{_esc(what)}: not drawn]</div>'


# -- blocks ------------------------------------------------------------------------------------


def _section(block: Mapping[str, Any], names: Audience) -> str:
    parts = []
    if "text" in block:
        parts.append(f'<div class="text">{text_html(block.get("text"), names)}</div>')
    fields = [f'<div class="field">{text_html(f, names)}</div>' for f in block.get("fields") or []]
    if fields:
        parts.append(f'<div class="fields">{"".join(fields)}</div>')
    body = f'<div class="section-body">{"".join(parts)}</div>'
    accessory = block.get("accessory")
    if isinstance(accessory, Mapping):
        body += f'<div class="accessory">{_element(accessory, names)}</div>'
    return f'<div class="block section">{body}</div>'


def _context(block: Mapping[str, Any], names: Audience) -> str:
    items = []
    for element in block.get("elements") or []:
        if isinstance(element, Mapping) and element.get("type") == "image":
            items.append(
                f'<span class="image-alt">[{_esc(str(element.get("alt_text", "")))}]</span>'
            )
        else:
            items.append(f"<span>{text_html(element, names)}</span>")
    return f'<div class="block context">{"".join(items)}</div>'


def _actions(block: Mapping[str, Any], names: Audience) -> str:
    elements = "".join(_element(e, names) for e in block.get("elements") or [])
    return f'<div class="block actions">{elements}</div>'


def _input(block: Mapping[str, Any], names: Audience) -> str:
    label = text_html(block.get("label"), names)
    optional = ' <span class="optional">(optional)</span>' if block.get("optional") else ""
    hint = text_html(block.get("hint"), names)
    return (
        f'<div class="block input"><div class="label">{label}{optional}</div>'
        f"{_element(block.get('element'), names)}"
        + (f'<div class="hint">{hint}</div>' if hint else "")
        + "</div>"
    )


_BLOCKS: Final[dict[str, Callable[[Mapping[str, Any], Audience], str]]] = {
    "section": _section,
    "context": _context,
    "rich_text": _rich_text,
    "actions": _actions,
    "input": _input,
    "header": lambda b, n: f'<div class="block header">{text_html(b.get("text"), n)}</div>',
    "divider": lambda _b, _n: '<hr class="block divider">',
}


def blocks_html(blocks: object, names: Audience) -> str:
    """A list of Block Kit blocks as HTML, top to bottom.

    Args:
        blocks: The blocks (anything: non-lists give nothing, non-dict items are skipped).
        names: Names for mentions.

    Returns:
        One `div.block` (or `hr`) per block; unknown block types as a dashed box.
    """
    parts = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, Mapping):
            continue
        draw = _BLOCKS.get(str(block.get("type")))
        parts.append(draw(block, names) if draw else _unknown(f"block {block.get('type')!r}"))
    return "".join(parts)


# -- pages -------------------------------------------------------------------------------------


def slack_time(ts: str | None) -> str:
    """A message ts (`"1700000000.000100"`) as Slack shows it beside the name: `10:13 PM`, UTC.

    Args:
        ts: The message's ts; None or garbage gives an empty string.

    Returns:
        The time of day, 12-hour clock.
    """
    try:
        moment = datetime.fromtimestamp(float(ts or ""), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


_CSS: Final = """
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body {
  width: %(width)dpx; color: #1d1c1d; background: #ffffff;
  font: 15px/1.46668 Lato, "Slack-Lato", "Helvetica Neue", Helvetica, Arial, "DejaVu Sans",
    "Noto Color Emoji", sans-serif;
  -webkit-font-smoothing: antialiased;
}
.emoji { font-family: "Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji", sans-serif;
  font-size: 1.1em; line-height: 1; vertical-align: -1px; }
b { font-weight: 700; }
a { color: #1264a3; text-decoration: none; }
code { font: 12px/1.5 Monaco, Menlo, Consolas, "DejaVu Sans Mono", monospace; color: #e01e5a;
  background: #f7f7f7; border: 1px solid #e1e1e1; border-radius: 3px; padding: 2px 3px 1px; }
pre { font: 12px/1.5 Monaco, Menlo, Consolas, "DejaVu Sans Mono", monospace; margin: 4px 0;
  background: #f8f8f8; border: 1px solid #e1e1e1; border-radius: 4px; padding: 8px;
  white-space: pre-wrap; }
blockquote { margin: 4px 0; padding-left: 12px; border-left: 4px solid #dddddd; }
.mention { color: #1264a3; background: #e8f5fa; border-radius: 3px; padding: 0 2px; }
.mention.broadcast { color: #7f5a00; background: #fcf4d9; }
.text, .field, .rt-section, li, .context span, .value, .placeholder, .label,
  .option-text { white-space: pre-wrap; overflow-wrap: anywhere; }

.channel-bar { height: 49px; padding: 0 20px; display: flex; align-items: center;
  border-bottom: 1px solid #dddddd; font-weight: 900; font-size: 18px; }
.channel-bar .sub { font-weight: 400; font-size: 13px; color: #616061; margin-left: 8px; }
.message { display: flex; padding: 12px 20px 16px; }
.avatar { flex: 0 0 36px; height: 36px; margin-right: 8px; border-radius: 4px;
  background: linear-gradient(135deg, #4a154b, #e01e5a); color: #fff; font-weight: 900;
  font-size: 14px; display: flex; align-items: center; justify-content: center; }
.content { flex: 1; min-width: 0; }
.sender { line-height: 22px; }
.sender .name { font-weight: 900; }
.sender .badge { font-size: 10px; font-weight: 700; color: #616061; background: #e8e8e8;
  border-radius: 2px; padding: 1px 3px; margin-left: 4px; vertical-align: 1px; }
.sender .time { font-size: 12px; color: #616061; margin-left: 6px; }
.edited { font-size: 13px; color: #616061; }

.block { margin: 4px 0; }
.section { display: flex; gap: 12px; }
.section-body { flex: 1; min-width: 0; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 16px; margin-top: 4px; }
.context { font-size: 12px; color: #616061; display: flex; flex-wrap: wrap; gap: 8px;
  line-height: 1.5; }
.context code { font-size: 11px; }
.header { font-size: 18px; font-weight: 900; margin: 8px 0; }
hr.divider { border: 0; border-top: 1px solid #dddddd; margin: 12px 0; }
.rt-list { margin: 2px 0; padding-left: 24px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; align-items: flex-start; }
.button { display: inline-flex; align-items: center; height: 28px; padding: 0 12px;
  font-size: 13px; font-weight: 700; border-radius: 4px; border: 1px solid #bbbbbb;
  background: #ffffff; color: #1d1c1d; white-space: nowrap; }
.button-primary { background: #007a5a; border-color: #007a5a; color: #ffffff; }
.button-danger { background: #e01e5a; border-color: #e01e5a; color: #ffffff; }
.choices { display: flex; flex-direction: column; gap: 8px; padding: 2px 0; }
.option { display: flex; align-items: flex-start; gap: 8px; }
.radio, .checkbox { flex: 0 0 16px; height: 16px; margin-top: 3px; border: 1px solid #868686;
  background: #fff; }
.radio { border-radius: 50%%; }
.checkbox { border-radius: 3px; }
.radio.on { border: 5px solid #1264a3; }
.checkbox.on { background: #1264a3; border-color: #1264a3; }
.option-description { display: block; font-size: 13px; color: #616061; }
.input { margin: 12px 0; }
.label { font-weight: 700; margin-bottom: 8px; }
.optional { font-weight: 400; color: #616061; }
.hint { font-size: 13px; color: #616061; margin-top: 6px; }
.text-input, .select { border: 1px solid #bbbbbb; border-radius: 4px; padding: 9px 12px;
  min-height: 40px; background: #fff; }
.text-input.multiline { min-height: 88px; }
.select { display: flex; justify-content: space-between; }
.placeholder { color: #868686; }
.unknown { font-size: 12px; color: #868686; border: 1px dashed #bbbbbb; border-radius: 4px;
  padding: 4px 8px; margin: 4px 0; }
.image-alt { font-style: italic; }

body.modal-page { background: #6b6b6b; padding: 32px 0; }
.modal { width: 520px; margin: 0 auto; background: #ffffff; border-radius: 8px;
  box-shadow: 0 18px 48px rgba(0, 0, 0, 0.35); overflow: hidden; }
.modal-head { display: flex; align-items: center; padding: 18px 24px 18px 28px;
  border-bottom: 1px solid #dddddd; }
.modal-head .avatar { flex-basis: 24px; height: 24px; font-size: 10px; margin-right: 12px; }
.modal-title { flex: 1; font-size: 22px; font-weight: 900; line-height: 1.2; }
.modal-x { font-size: 22px; color: #616061; }
.modal-body { padding: 16px 28px 20px; }
.modal-foot { display: flex; justify-content: flex-end; gap: 12px; padding: 20px 28px;
  border-top: 1px solid #dddddd; }
.modal-foot .button { height: 36px; font-size: 15px; padding: 0 14px; }
"""

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'"
"""No scripts, no fonts, images, frames or connections from anywhere: the page is inert."""


def _page(title: str, body_class: str, body: str) -> str:
    css = _CSS % {"width": PAGE_WIDTH_PX}
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<meta name="viewport" content="width={PAGE_WIDTH_PX}">'
        f"<title>{_esc(title)}</title><style>{css}</style></head>"
        f'<body class="{body_class}">\n{body}\n</body></html>\n'
    )


def _avatar() -> str:
    return '<div class="avatar" aria-hidden="true">VS</div>'


def message_page(
    message: Mapping[str, Any],
    names: Audience,
    *,
    where: str = "",
    where_note: str = "",
    ts: str | None = None,
    edited: bool = False,
    title: str = "",
) -> str:
    """A message as a channel shows it, as a whole HTML page.

    Args:
        message: The message as posted (`chat.postMessage`/`chat.update` arguments): its
            `blocks`, else its `text` fallback (mrkdwn) is drawn.
        names: Names for mentions.
        where: The channel bar's heading (`#incidents`); no bar when empty.
        where_note: Smaller words beside the heading (`thread`).
        ts: The message's ts, shown as the time beside the app's name.
        edited: Mark it `(edited)`, as Slack does after `chat.update`.
        title: The page's `<title>`.

    Returns:
        A self-contained HTML document.
    """
    blocks = message.get("blocks")
    if isinstance(blocks, list) and blocks:
        body = blocks_html(blocks, names)
    else:
        body = f'<div class="block text">{mrkdwn_html(str(message.get("text") or ""), names)}</div>'
    if edited:
        body += '<div class="edited">(edited)</div>'
    bar = ""
    if where:
        note = f'<span class="sub">{_esc(where_note)}</span>' if where_note else ""
        bar = f'<div class="channel-bar">{_esc(where)}{note}</div>'
    time = slack_time(ts)
    sender = (
        f'<div class="sender"><span class="name">{_esc(APP_NAME)}</span>'
        '<span class="badge">APP</span>'
        + (f'<span class="time">{_esc(time)}</span>' if time else "")
        + "</div>"
    )
    return _page(
        title or APP_NAME,
        "message-page",
        f'{bar}<div class="message">{_avatar()}<div class="content">{sender}{body}</div></div>',
    )


def modal_page(view: Mapping[str, Any], names: Audience, *, title: str = "") -> str:
    """A modal as Slack shows it over the dimmed window, as a whole HTML page.

    Args:
        view: The view (as sent to `views.open`/`views.update`, or returned in an ack).
        names: Names for mentions.
        title: The page's `<title>`; the modal's own title when empty.

    Returns:
        A self-contained HTML document.
    """
    heading = text_html(view.get("title"), names)
    buttons = []
    if close := text_html(view.get("close"), names):
        buttons.append(f'<span class="button button-default" role="button">{close}</span>')
    if submit := text_html(view.get("submit"), names):
        buttons.append(f'<span class="button button-primary" role="button">{submit}</span>')
    if not buttons:
        # Slack always offers a way out: a modal without `close` gets a default Cancel.
        buttons.append('<span class="button button-default" role="button">Cancel</span>')
    modal = (
        '<div class="modal" role="dialog">'
        f'<div class="modal-head">{_avatar()}<div class="modal-title">{heading}</div>'
        '<div class="modal-x" aria-hidden="true">×</div></div>'
        f'<div class="modal-body">{blocks_html(view.get("blocks"), names)}</div>'
        f'<div class="modal-foot">{"".join(buttons)}</div>'
        "</div>"
    )
    named = view.get("title")
    plain_title = str(named.get("text", "")) if isinstance(named, Mapping) else ""
    return _page(title or plain_title or APP_NAME, "modal-page", modal)


def call_page(
    method: str,
    args: Mapping[str, Any],
    names: Audience,
    *,
    shown_at: str | None = None,
    title: str = "",
) -> str:
    """A recorded Web API call's payload as the page its audience sees.

    Args:
        method: `views.open`/`views.update`/`views.push` draw the modal in `args["view"]`; any
            other method (`chat.postMessage`, `chat.update`, `chat.postEphemeral`) draws
            `args` as a message in its channel (or thread), edited after `chat.update`.
        args: The call's arguments.
        names: Names for mentions and the channel bar.
        shown_at: The time beside the app's name, as a ts (epoch seconds); the message's own
            `ts` argument when None (a new post has none: its ts is Slack's to give).
        title: The page's `<title>`.

    Returns:
        A self-contained HTML document.
    """
    view = args.get("view")
    if method.startswith("views.") and isinstance(view, Mapping):
        return modal_page(view, names, title=title)
    channel = args.get("channel")
    where = names.channel(str(channel)) if channel else ""
    note = "only visible to you" if method == "chat.postEphemeral" else ""
    if args.get("thread_ts"):
        where, note = "Thread", where
    shown_ts = shown_at or (str(args["ts"]) if args.get("ts") else None)
    return message_page(
        args,
        names,
        where=where,
        where_note=note,
        ts=shown_ts,
        edited=method == "chat.update",
        title=title,
    )
