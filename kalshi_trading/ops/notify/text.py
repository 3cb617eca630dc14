"""A message as Telegram's HTML: escaped, its title bold, split into parts the Bot API accepts.

The Bot API takes 1 to 4096 characters after entity parsing; we count more strictly, every character of the HTML
we send (tags and entities included) in UTF-16 code units (how Telegram counts; an emoji is two), so no part can
be too long whatever the parser counts.  Splitting happens on the plain text before it is escaped, so a part never
ends inside an entity (`&amp;`) or a tag; parts end at line boundaries, and a single line longer than a part is
cut (at a space when one is near).  Joined, the parts are exactly the escaped whole.
"""

from __future__ import annotations

from kalshi_trading.ops.notify.message import Message

LIMIT = 4096
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
EMPTY = "(no text)"


def escape(text: str) -> str:
    """Plain text made safe for Telegram's HTML mode (`&`, `<` and `>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def units(text: str) -> int:
    """`text`'s length in UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _cost(ch: str) -> int:
    """What one plain character costs once escaped, in UTF-16 code units."""
    escaped = _ESCAPES.get(ch)
    if escaped is not None:
        return len(escaped)
    return 2 if ord(ch) > 0xFFFF else 1


def header(title: str, limit: int = LIMIT) -> str:
    """The bold title line (its text cut so the title takes at most a quarter of a part)."""
    if not title:
        return ""
    room = limit // 4
    kept, used = [], 0
    for ch in title.replace("\n", " "):
        if used + _cost(ch) > room:
            kept.append("…")
            break
        kept.append(ch)
        used += _cost(ch)
    return f"<b>{escape(''.join(kept))}</b>\n"


def render(message: Message) -> str:
    """The whole message as Telegram HTML (before splitting)."""
    return header(message.title) + escape(message.text or ("" if message.title else EMPTY))


def split_plain(text: str, limit: int = LIMIT, first: int | None = None) -> list[str]:
    """`text` in pieces whose escaped forms each cost at most `limit` (the first at most `first`), cut at line
    boundaries where possible; `''.join(pieces) == text`."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0

    def room() -> int:
        return (first if first is not None and not pieces else limit)

    def flush() -> None:
        nonlocal used
        pieces.append("".join(current))
        current.clear()
        used = 0

    for line in text.splitlines(keepends=True):
        cost = sum(_cost(ch) for ch in line)
        if current and used + cost > room():
            flush()
        while cost > room():  # a line longer than a whole part: cut it
            if current:
                flush()
            head, line = _cut(line, room())
            pieces.append(head)
            cost = sum(_cost(ch) for ch in line)
        current.append(line)
        used += cost
    if current or not pieces:
        flush()
    return pieces


def _cut(line: str, room: int) -> tuple[str, str]:
    """The longest head of `line` costing at most `room` (ending after a space in its second half when there is
    one), and the rest."""
    used, end = 0, 0
    for i, ch in enumerate(line):
        if used + _cost(ch) > room:
            break
        used += _cost(ch)
        end = i + 1
    end = max(end, 1)  # room is never below one escaped character (5), but never loop for ever
    space = line.rfind(" ", end // 2, end)
    if space > 0:
        end = space + 1
    return line[:end], line[end:]


def parts(message: Message, limit: int = LIMIT) -> list[str]:
    """The message as Telegram HTML parts, each at most `limit` UTF-16 units; joined they are `render(message)`."""
    top = header(message.title, limit)
    body = message.text or ("" if message.title else EMPTY)
    pieces = split_plain(body, limit, first=limit - units(top))
    out = [escape(piece) for piece in pieces]
    out[0] = top + out[0]
    return [p for p in out if p] or [escape(EMPTY)]
