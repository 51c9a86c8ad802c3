"""Spoken-style rewriting through an OpenAI-compatible chat endpoint, for users who have one.

Configuration comes from the environment so that no key lands in a command line or a file:
A2M_LLM_URL (base URL ending in /v1, e.g. http://localhost:8000/v1), A2M_LLM_MODEL and,
where the server wants one, A2M_LLM_API_KEY. Only the standard library talks HTTP here.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from a2m_core.errors import InputError
from training.data.rewrite import Rewrite, clean_caption

SYSTEM_PROMPT = (
    "You rewrite descriptions of human motion into instructions that a person would say out loud to "
    "someone else. Keep every action, body part, side (left/right), direction, count and the order of "
    "the actions exactly; drop the third-person subject and speak to the listener ('you', 'your'). "
    "Vary the style: commands, polite requests, casual speech. Answer with one instruction per line "
    "and nothing else."
)


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to reach the chat endpoint."""

    base_url: str
    model: str
    api_key: str = ""
    timeout_s: float = 60.0
    max_retries: int = 3  # on connection errors, 429 and 5xx
    temperature: float = 0.9

    def __post_init__(self) -> None:
        if not re.match(r"^https?://", self.base_url):
            raise InputError(f"A2M_LLM_URL={self.base_url!r} is not an http(s) URL; expected e.g. "
                             "http://localhost:8000/v1")
        if not self.model:
            raise InputError("A2M_LLM_MODEL is empty; set it to the model name the endpoint serves")
        if self.timeout_s <= 0 or self.max_retries < 0:
            raise ValueError(f"timeout_s must be > 0 and max_retries >= 0, got {self.timeout_s}, {self.max_retries}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> LLMConfig:
        env = os.environ if environ is None else environ
        missing = [name for name in ("A2M_LLM_URL", "A2M_LLM_MODEL") if not env.get(name)]
        if missing:
            raise InputError(f"{' and '.join(missing)} not set; the LLM rewriter needs A2M_LLM_URL "
                             "(e.g. http://localhost:8000/v1), A2M_LLM_MODEL and, if required, A2M_LLM_API_KEY")
        return cls(base_url=env["A2M_LLM_URL"].rstrip("/"), model=env["A2M_LLM_MODEL"],
                   api_key=env.get("A2M_LLM_API_KEY", ""))


def parse_rewrites(content: str) -> list[str]:
    """Instructions from a reply: one per line, bullets, numbering and quotes stripped, duplicates dropped."""
    out: list[str] = []
    for line in content.splitlines():
        text = re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", line).strip().strip('"').strip()
        if text and text not in out:
            out.append(text)
    return out


class LLMRewriter:
    """Client of POST {base_url}/chat/completions that returns spoken-style rewrites."""

    def __init__(self, config: LLMConfig):
        self.config = config

    def _post(self, payload: dict) -> dict:
        request = urllib.request.Request(
            f"{self.config.base_url}/chat/completions", data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {})})
        for attempt in range(self.config.max_retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                    return json.loads(response.read().decode())
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    raise InputError(f"the LLM endpoint refused the key (HTTP {exc.code}); check A2M_LLM_API_KEY") from exc
                if exc.code != 429 and exc.code < 500 or attempt == self.config.max_retries:
                    raise InputError(f"the LLM endpoint answered HTTP {exc.code}: {exc.read()[:200]!r}") from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.config.max_retries:
                    raise InputError(f"cannot reach the LLM endpoint {self.config.base_url} ({exc}); "
                                     "check A2M_LLM_URL and that the server runs") from exc
            except json.JSONDecodeError as exc:
                raise InputError(f"the LLM endpoint answered with invalid JSON ({exc})") from exc
            time.sleep(min(0.5 * 2**attempt, 8.0))
        raise AssertionError("unreachable")

    def rewrite(self, caption: str, num_rewrites: int) -> list[Rewrite]:
        """Up to `num_rewrites` spoken-style instructions for `caption` (InputError if the reply has none)."""
        text = clean_caption(caption)
        reply = self._post({
            "model": self.config.model,
            "temperature": self.config.temperature,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Write {num_rewrites} different spoken instructions for: {text}"},
            ],
        })
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise InputError(f"the LLM reply has no choices[0].message.content: {str(reply)[:200]}") from exc
        lines = parse_rewrites(content or "")
        if not lines:
            raise InputError(f"the LLM returned no rewrite for {text!r}")
        return [Rewrite(line, "llm") for line in lines[:num_rewrites]]
