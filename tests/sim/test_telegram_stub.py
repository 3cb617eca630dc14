"""The simulator's Telegram Bot API stub, with bare `requests` (independently of ops/notify): the shapes of
data-sources.md §3 (success, 401, 400 chat not found, 429 with parameters.retry_after, one without), HTML parsed
the way Telegram does it, the 4096-character limit in UTF-16 units, long polling (answered early, offsets,
409 for an older poll), the control routes (token-checked), the outside-source faults in the Bot API's envelope,
and the token masked in the server's access log."""

from __future__ import annotations

import logging
import threading
import time

import pytest
import requests

from kalshi_trading.sim.routes_control import TOKEN_HEADER
from tests.e2e.conftest import sim  # noqa: F401  (the simulator fixture)

TOKEN = "7770001:AAG-stubTestSecretPart_0123456789"


@pytest.fixture
def stub(sim):  # noqa: F811
    root = sim.base_url[: -len("/trade-api/v2")] + "/ext/telegram"

    class Stub:
        server = sim

        @staticmethod
        def api(method: str, token: str = TOKEN, **kw) -> requests.Response:
            return requests.post(f"{root}/bot{token}/{method}", timeout=30, **kw)

        @staticmethod
        def control(method: str, path: str, token: str | None = None, **kw) -> requests.Response:
            return requests.request(method, sim.base_url + "/sim/control/telegram" + path, timeout=10,
                                    headers={TOKEN_HEADER: sim.control_token if token is None else token}, **kw)

    Stub.control("POST", "/bots", json={"token": TOKEN, "chats": [42, -1001234567890, "@alerts_channel"]})
    return Stub


def test_send_message_answers_the_documented_shape(stub):
    r = stub.api("sendMessage", json={"chat_id": 42, "text": "<b>HALTED</b>\n1 &lt; 2 &amp; 3", "parse_mode": "HTML",
                                      "link_preview_options": {"is_disabled": True}})
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and set(body["result"]) == {"message_id", "from", "chat", "date", "text"}
    assert body["result"]["chat"] == {"id": 42, "type": "private", "first_name": "Sim", "username": "user42"}
    assert body["result"]["text"] == "HALTED\n1 < 2 & 3"
    (sent,) = stub.control("GET", "/messages").json()["messages"]
    assert sent["html"].startswith("<b>HALTED</b>") and sent["link_preview_disabled"] is True


def test_parameters_may_come_as_a_form_or_in_the_query(stub):
    assert stub.api("sendMessage", data={"chat_id": "42", "text": "form"}).json()["ok"]
    assert requests.get(stub.server.base_url[:-13] + f"/ext/telegram/bot{TOKEN}/sendMessage",
                        params={"chat_id": "@alerts_channel", "text": "query"}, timeout=10).json()["ok"]


@pytest.mark.parametrize("token,method,body,status,description", [
    ("7770009:AAG-nobodyHasThisToken_0123456789", "sendMessage", {"chat_id": 42, "text": "x"}, 401, "Unauthorized"),
    (TOKEN, "sendPigeon", {"chat_id": 42, "text": "x"}, 404, "Not Found"),
    (TOKEN, "sendMessage", {"chat_id": 43, "text": "x"}, 400, "Bad Request: chat not found"),
    (TOKEN, "sendMessage", {"chat_id": "@nochannel", "text": "x"}, 400, "Bad Request: chat not found"),
    (TOKEN, "sendMessage", {"text": "x"}, 400, "Bad Request: chat_id is empty"),
    (TOKEN, "sendMessage", {"chat_id": 42, "text": "  "}, 400, "Bad Request: message text is empty"),
    (TOKEN, "sendMessage", {"chat_id": 42, "text": "x" * 4097}, 400, "Bad Request: message is too long"),
    (TOKEN, "sendMessage", {"chat_id": 42, "text": "🙂" * 2049}, 400, "Bad Request: message is too long"),
])
def test_errors_come_in_the_bot_apis_envelope(stub, token, method, body, status, description):
    r = stub.api(method, token=token, json=body)
    assert r.status_code == status
    assert r.json() == {"ok": False, "error_code": status, "description": description}


def test_the_limit_counts_after_entity_parsing_in_utf16_units(stub):
    assert stub.api("sendMessage", json={"chat_id": 42, "text": "🙂" * 2048}).json()["ok"]  # 4096 units
    assert stub.api("sendMessage", json={"chat_id": -1001234567890, "text": "&amp;" * 4096,
                                         "parse_mode": "HTML"}).json()["ok"]  # 4096 characters once parsed


@pytest.mark.parametrize("html,words", [("<foo>x</foo>", 'Unsupported start tag "foo"'), ("a & b", "'&'"),
                                        ("<b>open", "Can't find end tag"), ("1 > 0", "'>'"),
                                        ("<b>x</i>", "Unmatched end tag")])
def test_html_it_cannot_parse_is_refused_as_telegram_does(stub, html, words):
    r = stub.api("sendMessage", json={"chat_id": 42, "text": html, "parse_mode": "HTML"})
    assert r.status_code == 400 and r.json()["description"].startswith("Bad Request: can't parse entities: ")
    assert words in r.json()["description"]


def test_a_burst_to_one_chat_is_refused_with_retry_after(stub):
    answers = [stub.api("sendMessage", json={"chat_id": 42, "text": f"n{i}"}) for i in range(8)]
    limited = [a.json() for a in answers if a.status_code == 429]
    assert limited, "the per-chat limit was not enforced"
    assert limited[0]["parameters"]["retry_after"] >= 1
    assert limited[0]["description"] == f"Too Many Requests: retry after {limited[0]['parameters']['retry_after']}"


def test_scripted_failures_include_a_429_without_parameters(stub):
    assert stub.control("POST", "/failures", json={"status": 429, "description": "Too Many Requests: retry after 4",
                                                   "count": 1}).status_code == 200
    stub.control("POST", "/failures", json={"status": 403, "description": "Forbidden: bot was blocked by the user"})
    first, second = (stub.api("sendMessage", json={"chat_id": 42, "text": "x"}) for _ in range(2))
    assert first.status_code == 429 and first.json() == {"ok": False, "error_code": 429,
                                                         "description": "Too Many Requests: retry after 4"}
    assert second.status_code == 403 and "blocked" in second.json()["description"]
    assert stub.api("sendMessage", json={"chat_id": 42, "text": "x"}).json()["ok"]


def test_get_updates_long_polls_and_answers_as_soon_as_a_message_arrives(stub):
    assert stub.api("getUpdates", json={"timeout": 0}).json() == {"ok": True, "result": []}
    timer = threading.Timer(0.5, lambda: stub.control("POST", "/updates", json={"chat_id": 42, "text": "/status"}))
    timer.start()
    started = time.monotonic()
    got = stub.api("getUpdates", json={"timeout": 25}).json()["result"]
    assert time.monotonic() - started < 20  # early, not at the end of its 25 s
    (update,) = got
    message = update["message"]
    assert message["text"] == "/status" and message["chat"]["id"] == 42 and message["from"]["is_bot"] is False
    assert message["entities"] == [{"offset": 0, "length": 7, "type": "bot_command"}]
    again = stub.api("getUpdates", json={"timeout": 0}).json()["result"]
    assert [u["update_id"] for u in again] == [update["update_id"]]  # not confirmed yet: still there
    confirmed = stub.api("getUpdates", json={"offset": update["update_id"] + 1, "timeout": 0}).json()["result"]
    assert confirmed == []


def test_messages_from_any_chat_and_channel_posts(stub):
    stub.control("POST", "/updates", json={"chat_id": 31337, "text": "hello"})  # a chat the bot never saw
    stub.control("POST", "/updates", json={"chat_id": "@alerts_channel", "text": "/status"})
    updates = stub.api("getUpdates", json={"timeout": 0}).json()["result"]
    assert updates[0]["message"]["chat"]["id"] == 31337
    assert updates[1]["channel_post"]["chat"]["type"] == "channel" and "from" not in updates[1]["channel_post"]
    assert stub.api("sendMessage", json={"chat_id": 31337, "text": "hi back"}).json()["ok"]  # it knows it now


def test_a_newer_poll_ends_an_older_one_with_409(stub):
    older: dict = {}
    thread = threading.Thread(target=lambda: older.update(r=stub.api("getUpdates", json={"timeout": 20})))
    thread.start()
    time.sleep(0.5)
    assert stub.api("getUpdates", json={"timeout": 0}).json()["ok"]
    thread.join(25)
    assert older["r"].status_code == 409 and "terminated by other getUpdates request" in older["r"].json()[
        "description"]


def test_the_control_routes_need_the_servers_token(stub):
    assert stub.control("GET", "/messages", token="wrong").status_code == 401
    assert stub.control("POST", "/updates", json={"chat_id": 42}).status_code == 400  # no text
    assert stub.control("POST", "/bots", json={"token": "not a token"}).status_code == 400
    assert stub.control("DELETE", "").json() == {"reset": True}
    assert stub.api("sendMessage", json={"chat_id": 42, "text": "x"}).status_code == 401  # forgotten


def test_source_faults_answer_in_the_bot_apis_envelope(stub):
    requests.post(stub.server.base_url + "/sim/control/faults", json={"source": "telegram", "status": 429},
                  headers={TOKEN_HEADER: stub.server.control_token}, timeout=10).raise_for_status()
    r = stub.api("sendMessage", json={"chat_id": 42, "text": "x"})
    assert r.status_code == 429 and r.json() == {"ok": False, "error_code": 429,
                                                 "description": "Too Many Requests: retry after 1"}


def test_the_access_log_never_shows_the_token(stub, caplog):
    with caplog.at_level(logging.DEBUG, logger="kalshi_trading.sim.http"):
        stub.api("sendMessage", json={"chat_id": 42, "text": "x"})
        stub.api("getMe", token="7770009:AAG-nobodyHasThisToken_0123456789")
    assert "/bot***/sendMessage" in caplog.text and "/bot***/getMe" in caplog.text
    assert "stubTestSecretPart" not in caplog.text and "nobodyHasThisToken" not in caplog.text
