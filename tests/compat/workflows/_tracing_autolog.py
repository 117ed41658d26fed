"""Autologging with tracing on, with the stock mlflow 3.x client: ``mlflow.openai.autolog()``
around the openai SDK, the model answered by a stub OpenAI-compatible server that this
script starts on loopback (no network, no key). Run by ``test_tracing_autolog.py`` with
openai on ``PYTHONPATH`` (``make compat-venvs`` installs it into ``.venvs/openai-extras``).

Checks that what the autologger records reaches Cairn and reads back with the stock client:
the chat span (type, inputs, outputs), the token usage MLflow derives from the answer, the
autologged span nested under an ``@mlflow.trace`` function, ``mlflow.search_traces`` (the
pandas form and filters on span type and run), feedback on an autologged trace, and that
``autolog(disable=True)`` stops tracing. Exits non-zero on the first broken expectation.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow
import openai

ANSWERS = 0


class StubOpenAI(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions``: the last user message upper-cased, fixed token usage."""

    def do_POST(self) -> None:
        global ANSWERS
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        assert self.path == "/v1/chat/completions", self.path
        ANSWERS += 1
        answer = {
            "id": f"chatcmpl-{ANSWERS}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": body["messages"][-1]["content"].upper(),
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


stub = ThreadingHTTPServer(("127.0.0.1", 0), StubOpenAI)
threading.Thread(target=stub.serve_forever, daemon=True).start()
llm = openai.OpenAI(
    base_url=f"http://127.0.0.1:{stub.server_port}/v1", api_key="stub", max_retries=0
)


def ask(question: str) -> str:
    reply = llm.chat.completions.create(
        model="stub-model", messages=[{"role": "user", "content": question}]
    )
    return str(reply.choices[0].message.content)


def wait_for_trace(trace_id: str, spans: int) -> mlflow.entities.Trace:
    """The trace once it has ``spans`` spans (export is asynchronous); bounded."""
    mlflow.flush_trace_async_logging(terminate=False)
    for _ in range(100):
        try:
            trace = mlflow.get_trace(trace_id)
        except Exception:
            trace = None
        if trace is not None and len(trace.data.spans) == spans:
            return trace
        time.sleep(0.2)
    raise AssertionError(f"trace {trace_id} never arrived with {spans} spans")


experiment_id = mlflow.set_experiment(f"autolog-{time.time_ns()}").experiment_id
mlflow.openai.autolog()

# ---- a bare autologged call: one CHAT_MODEL span ----
with mlflow.start_run() as run:
    assert ask("hello") == "HELLO"
chat_trace_id = mlflow.get_last_active_trace_id()
assert chat_trace_id, "the autologger made no trace"
trace = wait_for_trace(chat_trace_id, 1)
span = trace.data.spans[0]
assert span.span_type == "CHAT_MODEL", span.span_type
assert span.inputs["messages"] == [{"role": "user", "content": "hello"}], span.inputs
assert span.inputs["model"] == "stub-model", span.inputs
assert span.outputs["choices"][0]["message"]["content"] == "HELLO", span.outputs
assert trace.info.state.value == "OK", trace.info.state
usage = trace.info.token_usage
assert usage == {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}, usage
assert trace.info.trace_metadata.get("mlflow.sourceRun") == run.info.run_id, trace.info

# ---- nested under @mlflow.trace: the chat span's parent is the function's span ----


@mlflow.trace(span_type="AGENT")
def agent(question: str) -> str:
    return ask(question) + "!"


assert agent("why") == "WHY!"
agent_trace_id = mlflow.get_last_active_trace_id()
trace = wait_for_trace(agent_trace_id, 2)
by_type = {s.span_type: s for s in trace.data.spans}
assert set(by_type) == {"AGENT", "CHAT_MODEL"}, by_type
assert by_type["CHAT_MODEL"].parent_id == by_type["AGENT"].span_id
assert by_type["AGENT"].outputs == "WHY!", by_type["AGENT"].outputs
assert trace.info.token_usage["total_tokens"] == 10, trace.info.token_usage

# ---- search_traces: the pandas form (the default) and filters ----
frame = mlflow.search_traces(locations=[experiment_id])
assert sorted(frame["trace_id"]) == sorted([chat_trace_id, agent_trace_id]), frame
ordered = mlflow.search_traces(locations=[experiment_id], order_by=["timestamp_ms ASC"])
assert list(ordered["trace_id"]) == [chat_trace_id, agent_trace_id], ordered


def found(filter_string: str) -> set[str]:
    traces = mlflow.search_traces(
        locations=[experiment_id], filter_string=filter_string, return_type="list"
    )
    return {t.info.trace_id for t in traces}


assert found("span.type = 'CHAT_MODEL'") == {chat_trace_id, agent_trace_id}
assert found("span.type = 'AGENT'") == {agent_trace_id}
assert found(f"trace.run_id = '{run.info.run_id}'") == {chat_trace_id}
assert found("trace.status = 'OK'") == {chat_trace_id, agent_trace_id}
assert found("span.name = 'agent'") == {agent_trace_id}

# ---- feedback on an autologged trace ----
feedback = mlflow.log_feedback(trace_id=chat_trace_id, name="correct", value=True, rationale="ok")
assessments = mlflow.get_trace(chat_trace_id).info.assessments
assert [(a.name, a.value) for a in assessments] == [("correct", True)], assessments
assert mlflow.get_assessment(chat_trace_id, feedback.assessment_id).rationale == "ok"

# ---- autolog off: the call goes through, no trace is made ----
mlflow.openai.autolog(disable=True)
assert ask("quiet") == "QUIET"
mlflow.flush_trace_async_logging(terminate=False)
time.sleep(0.5)
assert len(mlflow.search_traces(locations=[experiment_id], return_type="list")) == 2
assert ANSWERS == 3, ANSWERS
stub.shutdown()
print("tracing autolog workflow ok", mlflow.__version__, openai.__version__)
