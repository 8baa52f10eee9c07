"""The benchmark harness's own parts: SSE parsing, stream classification, statistics, wrk output,
and the load generator against the real fake upstream (so the harness cannot silently rot)."""

from __future__ import annotations

import orjson
import pytest

from bench import wrk
from bench.loadgen import AiohttpClient, RawClient, Target, closed_loop, session
from bench.scenarios import direct
from bench.sse import END, ERROR, FINISH, FORMATS, TOKEN, Event, SSEParser
from bench.stats import percentile, summarize

STREAM = (
    b": a comment\n"
    b'event: message_start\ndata: {"a": 1}\n\n'
    b"data: line one\ndata: line two\n\n"
    b"data:no-space\r\n\r\n"
    b"event: ping\rdata: {}\r\r"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    Event("message_start", b'{"a": 1}'),
    Event("message", b"line one\nline two"),
    Event("message", b"no-space"),
    Event("ping", b"{}"),
    Event("message", b"[DONE]"),
]


def parse_in_pieces(data: bytes, cuts: list[int]) -> list[Event]:
    parser = SSEParser()
    events: list[Event] = []
    start = 0
    for cut in [*cuts, len(data)]:
        events += parser.feed(data[start:cut])
        start = cut
    return events + parser.close()


def test_sse_parser_whole_stream():
    assert parse_in_pieces(STREAM, []) == EXPECTED


def test_sse_parser_same_events_whatever_the_chunking():
    for cut in range(1, len(STREAM)):
        assert parse_in_pieces(STREAM, [cut]) == EXPECTED, f"split at byte {cut}"
    one_byte_at_a_time = list(range(1, len(STREAM)))
    assert parse_in_pieces(STREAM, one_byte_at_a_time) == EXPECTED


def test_sse_parser_drops_an_unfinished_event_at_eof():
    assert parse_in_pieces(b"data: complete\n\ndata: cut off\n", []) == [
        Event("message", b"complete")
    ]


def test_formats_classify_vendor_frames():
    openai = FORMATS["openai"]
    delta = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    assert openai(Event("message", orjson.dumps(delta))) == TOKEN
    assert (
        openai(Event("message", b'{"choices":[{"delta":{"role":"assistant","content":""}}]}')) == 0
    )
    assert openai(Event("message", b"[DONE]")) == END
    assert openai(Event("message", b'{"error":{"message":"x"}}')) == ERROR

    anthropic = FORMATS["anthropic"]
    text = b'{"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}'
    assert anthropic(Event("content_block_delta", text)) == TOKEN
    assert anthropic(Event("message_stop", b'{"type":"message_stop"}')) == END
    assert anthropic(Event("error", b"{}")) == ERROR

    gemini = FORMATS["gemini"]
    last = b'{"candidates":[{"content":{"parts":[{"text":"Hi"}]},"finishReason":"STOP"}]}'
    assert gemini(Event("message", last)) == TOKEN | FINISH

    gateway = FORMATS["gateway"]
    assert gateway(Event("message", b'{"type":"delta","content":"Hi"}')) == TOKEN
    assert gateway(Event("message", b'{"type":"done","usage":{}}')) == 0
    assert gateway(Event("message", b"[DONE]")) == END
    assert gateway(Event("error", b'{"type":"error","error":{"code":"x"}}')) == ERROR


def test_percentile_interpolates_between_ranks():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 100) == 100.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summarize():
    stats = summarize([3.0, 1.0, 2.0])
    assert stats == {"n": 3, "mean": 2.0, "p50": 2.0, "p90": 2.8, "p99": 2.98, "max": 3.0}
    assert summarize([])["p50"] is None


def test_wrk_summary_is_parsed():
    out = (
        "Running 2s test @ http://127.0.0.1:1/x\n"
        'WRKJSON {"requests":1000,"duration_us":2000000,"bytes":5,"connect":0,"read":0,'
        '"write":0,"status":10,"timeout":0,"mean":1500.5,"p50":1200,"p90":2000,"p99":4000,'
        '"max":9000}\n'
    )
    res = wrk.parse(out, 50, 2, 0)
    assert res["completed"] == 990
    assert res["throughput"] == 495.0
    assert res["errors"] == 10
    assert res["latency_ms"]["p50"] == 1.2
    assert res["latency_ms"]["p99"] == 4.0
    with pytest.raises(RuntimeError):
        wrk.parse("no summary here", 50, 2, 0)


CLIENTS = ["raw", "aiohttp"]


async def one_stream(client: str, t: Target):
    async with session() as http:
        c = RawClient(t) if client == "raw" else AiohttpClient(http)
        try:
            return await c.stream(t)
        finally:
            await c.close()


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("mode", ["streams", "requests"])
async def test_closed_loop_against_the_fake(fake_upstream, client, mode):
    t = direct("openai", fake_upstream.url, stream=mode == "streams", chunks=5)
    result = await closed_loop(t, mode, concurrency=2, duration=0.3, warmup=0.1, client=client)
    assert result["completed"] > 0
    assert result["errors"] == 0
    assert result["latency_ms"]["p50"] > 0
    if mode == "streams":
        assert result["all_frames_delivered"]
        assert result["tokens"] == 5 * result["completed"]
        assert result["ttft_ms"]["p50"] > 0


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_a_dropped_stream_is_counted_as_an_error(fake_upstream, provider, client):
    t = direct(provider, fake_upstream.url, stream=True, chunks=5, text="hi [[fake:drop_after=2]]")
    result = await one_stream(client, t)
    assert not result.ok
    assert result.tokens == 2
    assert result.error


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_short_stream_fails_the_expected_token_count(fake_upstream, client):
    t = direct("gemini", fake_upstream.url, stream=True, chunks=5, text="hi [[fake:chunks=3]]")
    assert (await one_stream(client, t)).error == "tokens_3_of_5"
    t = Target(t.url, t.body, t.headers, t.fmt, expect_tokens=3)
    assert (await one_stream(client, t)).ok


@pytest.mark.parametrize("client", CLIENTS)
async def test_an_upstream_error_status_is_an_error(fake_upstream, client):
    t = direct("anthropic", fake_upstream.url, stream=True, chunks=5, text="hi [[fake:status=429]]")
    assert (await one_stream(client, t)).error == "http_429"


def test_profile_summary_attributes_samples_to_functions_and_libraries():
    from bench.profile import summarize
    from bench.run import ROOT

    raw = (
        f"thread (1): MainThread;run (uvicorn/main.py:1);post ({ROOT}/ai/api/views.py:5);"
        "create (openai/_base_client.py:9) 30\n"
        f"thread (1): MainThread;run (uvicorn/main.py:1);post ({ROOT}/ai/api/views.py:6) 10\n"
        f"thread (2): writer;_run ({ROOT}/ai/usage/writer.py:3);put (queue.py:1) 10\n"
    )
    summary = summarize(raw, seconds=1.0, rate=100)
    assert summary["samples"] == 50
    assert summary["gil_busy_pct"] == 50.0
    assert dict(summary["self_by_library"]) == {"openai": 60.0, "ai": 20.0, "stdlib": 20.0}
    assert dict(summary["inclusive_by_library"])["ai"] == 100.0
    incl = dict(summary["inclusive_by_function"])
    assert incl["post (ai/api/views.py)"] == 80.0
    assert dict(summary["self_by_function"])["create (openai/_base_client.py)"] == 60.0


def test_sse_parser_lf_fast_path_matches_the_line_parser():
    lf = (
        b"data: one\n\n\n\nevent: named\ndata: two\ndata: lines\n\n: comment\ndata:three\n\n"
        b'data: {"x": "\xc3\xa9"}\n\nid: 7\n\ndata: [DONE]\n\n'
    )
    expected = [
        Event("message", b"one"),
        Event("named", b"two\nlines"),
        Event("message", b"three"),
        Event("message", b'{"x": "\xc3\xa9"}'),
        Event("message", b"[DONE]"),
    ]
    for cut in range(1, len(lf)):
        assert parse_in_pieces(lf, [cut]) == expected, f"split at byte {cut}"
    assert parse_in_pieces(lf, list(range(1, len(lf)))) == expected
    # The same stream with CRLF goes through the line parser and must agree.
    assert parse_in_pieces(lf.replace(b"\n", b"\r\n"), [7, 40]) == expected
