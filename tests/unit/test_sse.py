"""core/sse.py and inference.read_chat_stream: SSE split anywhere, keep-alives, [DONE], error chunks, cut streams."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gonka_tui.core.inference import Delta, Done, InferenceError, StreamCut, read_chat_stream
from gonka_tui.core.sse import MAX_EVENT_CHARS, SSEParser

MODEL = "m"


def chunk(content=None, finish=None, **extra) -> dict:
    delta = {} if content is None else {"content": content}
    return {"id": "inf-9", "object": "chat.completion.chunk", "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def stream(pieces, *, eol="\n", done=True, usage=True, error_after=None) -> bytes:
    out = [f": keep-alive{eol}{eol}", f"event: message{eol}data: {json.dumps(chunk(''))}{eol}{eol}"]
    for i, piece in enumerate(pieces):
        if error_after == i:
            out.append(f"data: {json.dumps({'error': {'message': 'model failed', 'type': 'server_error'}})}{eol}{eol}")
            break
        out.append(f"data: {json.dumps(chunk(piece), ensure_ascii=False)}{eol}{eol}")
    else:
        out.append(f"data: {json.dumps(chunk(finish='stop'))}{eol}{eol}")
        if usage:
            u = {"prompt_tokens": 5, "completion_tokens": len(pieces), "total_tokens": 5 + len(pieces)}
            out.append(f"data: {json.dumps({'choices': [], 'usage': u, 'model': MODEL})}{eol}{eol}")
    if done:
        out.append(f"data: [DONE]{eol}{eol}")
    return "".join(out).encode()


async def body(raw: bytes, cuts: list[int]):
    last = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(raw))):
        yield raw[last:cut]
        last = cut
    yield raw[last:]


async def collect(raw: bytes, cuts=()):
    events = []
    async for event in read_chat_stream(body(raw, list(cuts)), model=MODEL):
        events.append(event)
    return events


def parse(raw: bytes, cuts) -> list[str]:
    parser = SSEParser()
    out = []
    last = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(raw))) + [len(raw)]:
        out += parser.feed(raw[last:cut])
        last = cut
    return out + parser.close()


PIECES = ["Hé", "llo ", "wörld 🌍", "\n- a list", ""]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_every_single_split_point_gives_the_same_events(eol):
    raw = stream(PIECES, eol=eol)
    whole = parse(raw, [])
    assert len(whole) == 1 + len(PIECES) + 3  # role, each piece (the empty one too), finish, usage, [DONE]
    assert whole[-1] == "[DONE]"
    for cut in range(1, len(raw)):
        assert parse(raw, [cut]) == whole, cut


@settings(max_examples=200, deadline=None)
@given(pieces=st.lists(st.text(max_size=12), max_size=6), eol=st.sampled_from(["\n", "\r\n", "\r"]),
       cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=40))
async def test_arbitrary_splits_give_the_pieces_in_order_and_the_usage(pieces, eol, cuts):
    events = await collect(stream(pieces, eol=eol), cuts)
    *deltas, done = events
    assert [d.text for d in deltas] == [p for p in pieces if p]
    assert isinstance(done, Done) and done.content == "".join(pieces)
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (5, len(pieces))
    assert done.finish_reason == "stop" and done.inference_id == "inf-9" and done.model == MODEL


def test_comments_fields_and_multiline_data_follow_the_sse_rules():
    raw = b"\xef\xbb\xbf: hi\n\nretry: 5\nid: 3\ndata: one\ndata:two\n\ndata\n\n:\n\ndata: tail"
    assert parse(raw, []) == ["one\ntwo", ""]  # "data" alone is an empty line of data; the cut tail is dropped


async def test_done_ends_the_stream_even_if_more_bytes_follow():
    raw = stream(["a", "b"]) + b"data: {not json}\n\n"
    events = await collect(raw)
    assert [e.text for e in events[:-1]] == ["a", "b"] and events[-1].content == "ab"


async def test_an_error_chunk_raises_with_the_partial_answer():
    with pytest.raises(InferenceError) as err:
        await collect(stream(["Hel", "lo", "!"], error_after=2))
    assert not isinstance(err.value, StreamCut)
    assert err.value.partial == "Hello" and "model failed" in str(err.value)


@pytest.mark.parametrize("cut_at", ["usage", "finish", "half"])
async def test_a_stream_without_done_is_cut_and_keeps_the_partial_answer(cut_at):
    raw = stream(["Hel", "lo", "!"], done=False)
    if cut_at == "finish":
        raw = raw[:raw.index(b'"finish_reason": "stop"')]
    if cut_at == "half":
        raw = raw[:raw.index(b'"!"') + 1]  # the last piece's line cut mid-way
    seen = []
    with pytest.raises(StreamCut) as err:
        async for event in read_chat_stream(body(raw, [7, 50]), model=MODEL):
            seen.append(event)
    expected = "Hel" + "lo" + ("" if cut_at == "half" else "!")
    assert err.value.partial == expected == "".join(e.text for e in seen if isinstance(e, Delta))
    assert "cut" in str(err.value)


async def test_garbage_and_oversized_events_are_one_clean_error():
    with pytest.raises(InferenceError, match="not JSON"):
        await collect(b"data: {oops\n\n")
    with pytest.raises(InferenceError, match="more than"):
        await collect(b"data: " + b"x" * (MAX_EVENT_CHARS + 10))
    with pytest.raises(InferenceError, match="usage"):
        await collect(f"data: {json.dumps({'choices': [], 'usage': {'prompt_tokens': -1}})}\n\n".encode())


async def test_a_brokers_cost_is_read_from_the_usage():
    u = {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3, "cost_ngonka": "123456789012345678901"}
    raw = (f"data: {json.dumps(chunk('x'))}\n\ndata: {json.dumps({'choices': [], 'usage': u})}\n\n"
           "data: [DONE]\n\n").encode()
    done = (await collect(raw))[-1]
    assert done.cost_ngonka == 123456789012345678901 and not done.cost_is_estimate
