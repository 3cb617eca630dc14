"""Telegram's HTML for a message: escaping, the bold title, and splitting under 4096 characters (hypothesis: any text
and title split into parts of at most 4096 UTF-16 units that join back to the escaped whole, no part ending inside
an entity or a tag), checked against the simulator stub's own HTML parser (what a Telegram client would show)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_trading.ops.notify import text as fmt
from kalshi_trading.ops.notify.message import Message
from kalshi_trading.sim.outside_telegram import parse_html
from kalshi_trading.store.alerts import MessageKind, Severity

ENTITY_CUT = re.compile(r"&(?!amp;|lt;|gt;)")  # an ampersand that does not start a whole entity of ours


def msg(text: str, title: str = "") -> Message:
    return Message(MessageKind.DIGEST, Severity.INFO, text, "default", title=title)


def test_escaping_covers_the_three_characters_and_the_title_is_bold():
    html = fmt.render(msg("P&L < 0 > -1 & <b>not bold</b>", title="Digest <1> & more"))
    assert html == ("<b>Digest &lt;1&gt; &amp; more</b>\nP&amp;L &lt; 0 &gt; -1 &amp; &lt;b&gt;not bold&lt;/b&gt;")
    assert parse_html(html) == "Digest <1> & more\nP&L < 0 > -1 & <b>not bold</b>"


def test_a_long_digest_splits_at_line_boundaries():
    lines = [f"KXBTCD-26NOV2117-T{95000 + i} edge {i} bps & fee < 1¢" for i in range(300)]
    parts = fmt.parts(msg("\n".join(lines), title="signal digest"))
    assert len(parts) > 1
    assert all(fmt.units(p) <= fmt.LIMIT for p in parts)
    assert all(p.endswith("\n") for p in parts[:-1])  # every part but the last ends at a line's end
    assert parts[0].startswith("<b>signal digest</b>\n") and "<b>" not in "".join(parts[1:])


def test_a_single_line_longer_than_a_part_is_cut_between_entities():
    parts = fmt.parts(msg("&" * 5000))  # every character escapes to five
    assert "".join(parts) == "&amp;" * 5000
    assert all(fmt.units(p) <= fmt.LIMIT and not ENTITY_CUT.search(p) for p in parts)


def test_empty_text_still_says_something():
    assert fmt.parts(msg("")) == [fmt.EMPTY]
    assert parse_html(fmt.parts(msg("", title="only a title"))[0]).strip() == "only a title"


TEXTS = st.lists(st.sampled_from(list("ab <>&\n\t🙂é\r") + ["\r\n", " & ", "<b>", "x" * 700]),
                 max_size=400).map("".join) | st.text(max_size=3000)


@settings(max_examples=150, deadline=None)
@given(body=TEXTS, title=st.text(max_size=1500), limit=st.sampled_from([64, 500, 4096]))
def test_any_text_splits_into_parts_under_the_limit_that_join_back(body, title, limit):
    message = msg(body, title)
    parts = fmt.parts(message, limit)
    assert "".join(parts) == fmt.header(title, limit) + fmt.escape(body or ("" if title else fmt.EMPTY))
    for part in parts:
        assert 0 < fmt.units(part) <= limit
        assert not ENTITY_CUT.search(part)  # never inside an entity
        parse_html(part)  # every part parses on its own: no tag or entity cut in two (raises otherwise)
