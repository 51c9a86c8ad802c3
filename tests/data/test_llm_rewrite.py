"""LLM rewriter client against a local HTTP server started by the test (`endpoint` in conftest.py).

The server is a test double for an OpenAI-compatible endpoint (no LLM can run here); the
client's HTTP, JSON, auth, retry and parsing paths are the real ones.
"""

import pytest

from a2m_core.errors import InputError
from training.data.llm_rewrite import LLMConfig, LLMRewriter, parse_rewrites


def test_client_sends_openai_chat_request_and_parses_lines(endpoint):
    endpoint.responses = [(200, endpoint.chat("1. Walk forward, then wave your right hand.\n2. \"Can you walk ahead and "
                                      "wave with your right hand?\"\n- Please walk forward and wave.\n\n"))]
    config = LLMConfig.from_env({"A2M_LLM_URL": endpoint.url, "A2M_LLM_MODEL": "tiny", "A2M_LLM_API_KEY": "k1"})
    rewrites = LLMRewriter(config).rewrite("A person walks forward and then waves with their right hand.", 3)
    assert [r.text for r in rewrites] == ["Walk forward, then wave your right hand.",
                                          "Can you walk ahead and wave with your right hand?",
                                          "Please walk forward and wave."]
    assert all(r.frame == "llm" for r in rewrites)
    path, headers, body = endpoint.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer k1"
    assert body["model"] == "tiny" and body["messages"][0]["role"] == "system"
    assert "walks forward and then waves" in body["messages"][1]["content"]


def test_client_retries_server_errors_then_succeeds(endpoint):
    endpoint.responses = [(503, {"error": "busy"}), (200, endpoint.chat("Jump twice."))]
    config = LLMConfig(base_url=endpoint.url, model="m", max_retries=2)
    assert LLMRewriter(config).rewrite("a person jumps twice", 3)[0].text == "Jump twice."
    assert len(endpoint.requests) == 2


@pytest.mark.parametrize("status, reply, message", [
    (401, {"error": "no"}, "A2M_LLM_API_KEY"),
    (400, {"error": "bad model"}, "HTTP 400"),
    (200, "not json", "invalid JSON"),
    (200, {"choices": []}, "choices"),
    (200, None, "no rewrite"),  # None: a reply with only blank lines
])
def test_client_errors_are_input_errors(endpoint, status, reply, message):
    endpoint.responses = [(status, endpoint.chat("\n  \n") if reply is None else reply)]
    with pytest.raises(InputError, match=message):
        LLMRewriter(LLMConfig(base_url=endpoint.url, model="m", max_retries=0)).rewrite("a person waves", 3)


def test_unreachable_server_and_missing_env():
    with pytest.raises(InputError, match="cannot reach"):
        LLMRewriter(LLMConfig(base_url="http://127.0.0.1:9/v1", model="m", max_retries=0, timeout_s=2)).rewrite(
            "a person waves", 1)
    with pytest.raises(InputError, match="A2M_LLM_URL and A2M_LLM_MODEL not set"):
        LLMConfig.from_env({})
    with pytest.raises(InputError, match="http"):
        LLMConfig.from_env({"A2M_LLM_URL": "localhost:8000", "A2M_LLM_MODEL": "m"})


def test_parse_rewrites_drops_numbering_and_duplicates():
    assert parse_rewrites("1) Wave.\n* Wave.\n\u2022 Bow now.") == ["Wave.", "Bow now."]
