"""The model proxy on its unix socket, driven by httpx as a sandboxed CLI would drive it: the
real key reaches the OpenAI-style and Anthropic-style stand-ins (which refuse calls without it),
answers stream back whole and as server-sent events with the key cut out, usage is read in every
shape and charged, and a spent budget is refused with the API's own error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from integrations.agents.model_access import model_access
from integrations.agents.model_meter import ModelMeter
from integrations.agents.model_proxy import ModelProxy
from integrations.agents.model_upstream import Upstream
from integrations.agents.model_usage import UsageReader
from integrations.agents.proxy_wire import ProxyError, Redactor
from integrations.standins.anthropic import MessagesStandIn
from integrations.standins.base import Reply
from integrations.standins.chat import ChatStandIn
from worker.stage_settings import FixSettings

OPENAI_KEY = "sk-proj-real0openai0key0abcdefghijklmnop"
ANTHROPIC_KEY = "sk-ant-api03-real0anthropic0key0abcdefghij"
PLACEHOLDER = "placeholder"
TEXT = "The division by zero happens when the cart is empty."


def script(body: dict[str, Any], index: int) -> dict[str, Any]:
    return {"content": TEXT, "usage": {"prompt_tokens": 100, "completion_tokens": 20,
                                       "total_tokens": 120, "input_tokens": 100,
                                       "output_tokens": 20}}


@contextmanager
def proxy_for(tmp_path: Path, max_tokens: int = 10_000, max_cost: float = 10.0,
              ) -> Iterator[tuple[httpx.Client, ModelProxy, ChatStandIn, MessagesStandIn]]:
    chat = ChatStandIn(script, api_key=OPENAI_KEY)
    claude = MessagesStandIn(script, api_key=ANTHROPIC_KEY)
    with chat, claude:
        upstreams = [
            Upstream(style="openai", base_url=chat.url + "/v1", api_key=SecretStr(OPENAI_KEY),
                     price_per_1k_tokens=0.5),
            Upstream(style="anthropic", base_url=claude.url,
                     api_key=SecretStr(ANTHROPIC_KEY), price_per_1k_tokens=3.0)]
        socket_path = tmp_path / "model.sock"
        with ModelProxy(socket_path, upstreams, ModelMeter(max_tokens, max_cost)) as proxy, \
                httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path)),
                             base_url="http://127.0.0.1:4100") as client:
            yield client, proxy, chat, claude


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-test", "messages": [{"role": "user", "content": "why?"}], **extra}


def claude_body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-test", "max_tokens": 64,
            "messages": [{"role": "user", "content": "why?"}], **extra}


ANTHROPIC_HEADERS = {"x-api-key": PLACEHOLDER, "anthropic-version": "2023-06-01"}


def sse(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in text.splitlines()
            if line.startswith("data:") and line[5:].strip() != "[DONE]"]


def test_an_openai_chat_call_carries_the_real_key_and_is_charged(tmp_path: Path) -> None:
    with proxy_for(tmp_path) as (client, proxy, chat, _):
        response = client.post("/v1/chat/completions", json=chat_body(),
                               headers={"Authorization": f"Bearer {PLACEHOLDER}"})
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == TEXT
        [sent] = chat.chat_requests
        assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert sent.path == "/v1/chat/completions"
        spent = proxy.meter.summary()
        assert (spent.calls, spent.input_tokens, spent.output_tokens) == (1, 100, 20)
        assert spent.cost_usd == pytest.approx(120 * 0.5 / 1000)
        assert OPENAI_KEY not in response.text and PLACEHOLDER not in sent.body.decode()


def test_a_streamed_chat_call_is_relayed_as_events_and_its_usage_asked_for(
        tmp_path: Path) -> None:
    with proxy_for(tmp_path) as (client, proxy, chat, _):
        with client.stream("POST", "/v1/chat/completions",
                           json=chat_body(stream=True)) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            text = "".join(response.iter_text())
        chunks = sse(text)
        content = "".join(c["choices"][0]["delta"].get("content") or ""
                          for c in chunks if c["choices"])
        assert content == TEXT and text.rstrip().endswith("data: [DONE]")
        assert json.loads(chat.chat_requests[0].body)["stream_options"] == {
            "include_usage": True}
        assert chunks[-1]["usage"]["total_tokens"] == 120
        [call] = proxy.meter.summary().log
        assert call.stream and (call.input_tokens, call.output_tokens) == (100, 20)
        assert not call.estimated


@pytest.mark.parametrize("stream", [False, True])
def test_the_responses_api_is_forwarded_and_counted(tmp_path: Path, stream: bool) -> None:
    with proxy_for(tmp_path) as (client, proxy, chat, _):
        response = client.post("/v1/responses", json={"model": "gpt-test", "input": "why?",
                                                      "stream": stream})
        assert response.status_code == 200, response.text
        if stream:
            [done] = [e for e in sse(response.text) if e["type"] == "response.completed"]
            assert done["response"]["output"][0]["content"][0]["text"] == TEXT
        else:
            assert response.json()["output"][0]["content"][0]["text"] == TEXT
        assert chat.chat_requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert proxy.meter.summary().tokens == 120


@pytest.mark.parametrize("stream", [False, True])
def test_an_anthropic_message_carries_the_real_key_and_version(tmp_path: Path,
                                                               stream: bool) -> None:
    with proxy_for(tmp_path) as (client, proxy, chat, claude):
        response = client.post("/v1/messages", json=claude_body(stream=stream),
                               headers=ANTHROPIC_HEADERS)
        assert response.status_code == 200, response.text
        if stream:
            deltas = [e["delta"]["text"] for e in sse(response.text)
                      if e["type"] == "content_block_delta"]
            assert "".join(deltas) == TEXT
        else:
            assert response.json()["content"][0]["text"] == TEXT
        [sent] = claude.message_requests
        assert sent.headers["x-api-key"] == ANTHROPIC_KEY
        assert sent.headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in sent.headers and chat.calls == []
        spent = proxy.meter.summary()
        assert (spent.input_tokens, spent.output_tokens) == (100, 20)
        assert spent.cost_usd == pytest.approx(120 * 3.0 / 1000)


def test_models_are_listed_by_the_api_the_client_speaks(tmp_path: Path) -> None:
    with proxy_for(tmp_path) as (client, proxy, chat, claude):
        openai = client.get("/v1/models")
        anthropic = client.get("/v1/models", headers=ANTHROPIC_HEADERS)
        assert openai.json()["object"] == "list"
        assert anthropic.json()["has_more"] is False
        assert [c.path for c in chat.calls] == ["/v1/models"]
        assert [c.path for c in claude.calls] == ["/v1/models"]
        assert proxy.meter.summary().tokens == 0, "a listing costs nothing"


def test_the_budget_once_spent_refuses_further_calls_with_a_reason(tmp_path: Path) -> None:
    with proxy_for(tmp_path, max_tokens=150) as (client, proxy, chat, claude):
        assert client.post("/v1/chat/completions", json=chat_body()).status_code == 200
        assert client.post("/v1/chat/completions", json=chat_body()).status_code == 200
        refused = client.post("/v1/chat/completions", json=chat_body())
        assert refused.status_code == 402
        assert refused.headers["x-should-retry"] == "false"
        error = refused.json()["error"]
        assert error["code"] == "budget_exhausted"
        assert error["message"] == "the attempt's token budget is spent: 240 of 150 tokens used"
        anthropic = client.post("/v1/messages", json=claude_body(), headers=ANTHROPIC_HEADERS)
        assert anthropic.status_code == 402
        assert anthropic.json()["error"]["type"] == "budget_exhausted"
        assert len(chat.chat_requests) == 2 and claude.calls == []
        spent = proxy.meter.summary()
        assert (spent.calls, spent.refused, spent.tokens) == (4, 2, 240)


def test_the_cost_budget_binds_too(tmp_path: Path) -> None:
    with proxy_for(tmp_path, max_cost=0.3) as (client, _, _chat, claude):
        assert client.post("/v1/messages", json=claude_body(),
                           headers=ANTHROPIC_HEADERS).status_code == 200
        refused = client.post("/v1/messages", json=claude_body(), headers=ANTHROPIC_HEADERS)
        assert refused.status_code == 402
        assert "cost budget is spent: $0.3600 of $0.3" in refused.json()["error"]["message"]
        assert len(claude.message_requests) == 1


def test_a_key_the_upstream_echoes_is_cut_from_the_answer(tmp_path: Path) -> None:
    with proxy_for(tmp_path) as (client, proxy, chat, _):
        chat.fail_next(Reply(401, {"error": {"message": f"Incorrect API key {OPENAI_KEY}"}}))
        response = client.post("/v1/chat/completions", json=chat_body())
        assert response.status_code == 401
        assert OPENAI_KEY not in response.text
        assert response.json()["error"]["message"] == "Incorrect API key [REDACTED]"
        assert proxy.meter.summary().tokens == 0, "a failed call reports no usage"


@pytest.mark.parametrize(("method", "path", "body", "status", "words"), [
    ("POST", "/v1/files", {"purpose": "x"}, 404, "serves only the model APIs"),
    ("GET", "/v1/chat/completions", None, 404, "serves only the model APIs"),
    ("POST", "/v1/chat/completions", "not json", 400, "must be a JSON object"),
    ("POST", "/v1/chat/completions", [1, 2], 400, "must be a JSON object"),
])
def test_anything_but_a_model_call_is_refused_with_a_reason(tmp_path: Path, method: str,
                                                            path: str, body: Any, status: int,
                                                            words: str) -> None:
    with proxy_for(tmp_path) as (client, proxy, chat, claude):
        content = body if isinstance(body, str) or body is None else json.dumps(body)
        response = client.request(method, path, content=content)
        assert response.status_code == status
        assert words in response.json()["error"]["message"]
        assert chat.calls == [] and claude.calls == []
        assert proxy.meter.summary().refused == 1


def test_an_unconfigured_api_is_refused_with_a_reason(tmp_path: Path) -> None:
    with ChatStandIn(script) as chat:
        socket_path = tmp_path / "model.sock"
        upstream = Upstream(style="openai", base_url=chat.url + "/v1",
                            api_key=SecretStr(OPENAI_KEY))
        with ModelProxy(socket_path, [upstream], ModelMeter(1000, 1.0)), \
                httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path))) as client:
            response = client.post("http://proxy/v1/messages", json=claude_body(),
                                   headers=ANTHROPIC_HEADERS)
        assert response.status_code == 503
        assert response.json()["error"]["message"] == (
            "no anthropic-style model endpoint is configured for this worker")


def test_an_unreachable_upstream_is_a_502_not_a_hang(tmp_path: Path) -> None:
    socket_path = tmp_path / "model.sock"
    upstream = Upstream(style="openai", base_url="http://127.0.0.1:9/v1",
                        api_key=SecretStr(OPENAI_KEY))
    with ModelProxy(socket_path, [upstream], ModelMeter(1000, 1.0)), \
            httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path))) as client:
        response = client.post("http://proxy/v1/chat/completions", json=chat_body())
    assert response.status_code == 502
    assert "could not be reached" in response.json()["error"]["message"]


def test_the_redactor_cuts_a_key_split_across_chunks() -> None:
    key = b"sk-secret-0123456789"
    stream = b"before " + key + b" middle " + key + b" after"
    for size in (1, 3, 7, len(key), 64):
        redactor = Redactor([key])
        out = b"".join(redactor.feed(stream[i:i + size]) for i in range(0, len(stream), size))
        out += redactor.flush()
        assert out == b"before [REDACTED] middle [REDACTED] after", size
    live = Redactor([key])
    assert live.feed(b"data: {}\n\n") == b"data: {}\n\n", "nothing that could start a key"
    assert live.feed(b"data: sk-sec") == b"data: " and live.flush() == b"sk-sec"


def test_usage_is_read_from_events_split_anywhere() -> None:
    events = (
        b'event: message_start\ndata: {"type":"message_start","message":{"usage":'
        b'{"input_tokens":40,"cache_read_input_tokens":10,"output_tokens":1}}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":5}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":9}}\n\n')
    for size in (1, 5, 50, len(events)):
        reader = UsageReader(streaming=True)
        for i in range(0, len(events), size):
            reader.feed(events[i:i + size])
        usage = reader.usage()
        assert usage is not None and (usage.input_tokens, usage.output_tokens) == (50, 9)
    quiet = UsageReader(streaming=True)
    quiet.feed(b'data: {"choices": []}\n\ndata: [DONE]\n\n')
    assert quiet.usage() is None


def test_a_response_without_usage_is_estimated_so_the_budget_still_binds(
        tmp_path: Path) -> None:
    with proxy_for(tmp_path) as (client, proxy, chat, _):
        chat.fail_next(Reply(200, {"choices": [{"message": {"content": "x" * 400}}]}))
        assert client.post("/v1/chat/completions", json=chat_body()).status_code == 200
        [call] = proxy.meter.summary().log
        assert call.estimated and call.output_tokens >= 100 and call.input_tokens > 0


@pytest.mark.parametrize("path", ["/v1/models/..", "/v1/models/.", "http://evil/v1/models",
                                  "/v1/models/a/b", "/v2/models"])
def test_a_models_path_cannot_climb_to_other_endpoints(tmp_path: Path, path: str) -> None:
    proxy = ModelProxy(tmp_path / "unused.sock", [], ModelMeter(1, 1.0))
    with pytest.raises(ProxyError) as raised:
        proxy.route("GET", path, {})
    assert raised.value.status == 404
    proxy.stop()


class _GatedStream(BaseHTTPRequestHandler):
    """An upstream that sends one event, then holds the rest until the test opens the gate."""

    protocol_version = "HTTP/1.1"
    gate = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 - the base class's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for number, text in enumerate(["first", "second"]):
            if number:
                self.gate.wait(30)
            event = f'data: {{"choices": [{{"delta": {{"content": "{text}"}}}}]}}\n\n'.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


def test_events_reach_the_client_as_they_arrive_not_when_the_answer_ends(tmp_path: Path) -> None:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _GatedStream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    socket_path = tmp_path / "model.sock"
    base = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
    try:
        with ModelProxy(socket_path, [Upstream(style="openai", base_url=base,
                                               api_key=SecretStr(OPENAI_KEY))],
                        ModelMeter(1000, 1.0)), \
                httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path)),
                             timeout=20) as client, \
                client.stream("POST", "http://proxy/v1/chat/completions",
                              json=chat_body(stream=True)) as response:
            lines = response.iter_lines()
            # The upstream holds its second event until the first has reached the client:
            # a proxy that buffered the answer would never deliver it (the read times out).
            assert next(line for line in lines if line) == (
                'data: {"choices": [{"delta": {"content": "first"}}]}')
            _GatedStream.gate.set()
            assert "second" in next(line for line in lines if line)
    finally:
        _GatedStream.gate.set()
        upstream.shutdown()
        upstream.server_close()


def test_model_access_offers_the_configured_endpoints_and_no_key_to_the_sandbox() -> None:
    assert model_access(FixSettings()) is None
    local = model_access(FixSettings(agent={"base_url": "http://127.0.0.1:8080/v1"}))
    assert local is not None
    [upstream] = local.upstreams
    assert upstream.style == "openai" and upstream.auth_headers() == {}
    assert "ANTHROPIC_BASE_URL" not in local.sandbox_env()
    both = model_access(FixSettings(
        agent={"base_url": "https://api.openai.com/v1", "api_key": OPENAI_KEY,
               "price_per_1k_tokens": 0.01},
        anthropic={"api_key": ANTHROPIC_KEY, "price_per_1k_tokens": 0.02}))
    assert both is not None
    assert [(u.style, u.price_per_1k_tokens) for u in both.upstreams] == [
        ("openai", 0.01), ("anthropic", 0.02)]
    assert both.upstreams[1].auth_headers() == {"x-api-key": ANTHROPIC_KEY}
    assert both.upstreams[1].url("/v1/messages") == "https://api.anthropic.com/v1/messages"
    assert both.upstreams[0].url("/v1/responses") == "https://api.openai.com/v1/responses"
    env = both.sandbox_env()
    assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:4100/v1"
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:4100"
    assert OPENAI_KEY not in str(env) and ANTHROPIC_KEY not in str(env)


def test_counting_tokens_is_forwarded_and_costs_nothing(tmp_path: Path) -> None:
    with proxy_for(tmp_path) as (client, proxy, _, claude):
        claude.fail_next(Reply(200, {"input_tokens": 1234}))
        response = client.post("/v1/messages/count_tokens", json=claude_body(),
                               headers=ANTHROPIC_HEADERS)
        assert response.json() == {"input_tokens": 1234}
        assert claude.calls[0].headers["x-api-key"] == ANTHROPIC_KEY
        assert proxy.meter.summary().tokens == 0
