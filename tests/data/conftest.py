"""Fixtures of the data tests.

`endpoint`: a local HTTP server that answers like an OpenAI-compatible chat endpoint. It is a
test double for the LLM (none can run here); the clients' HTTP, JSON, auth, retry and parsing paths
that talk to it are the real ones.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeChatEndpoint:
    """Serves `responses` [(status, body)] in order (the last repeats) and records each request."""

    @staticmethod
    def chat(content):
        """A chat-completions reply body carrying `content`."""
        return {"choices": [{"message": {"role": "assistant", "content": content}}]}

    def __init__(self):
        self.requests = []
        self.responses = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, dict(self.headers), json.loads(body)))
                status, reply = outer.responses.pop(0) if len(outer.responses) > 1 else outer.responses[0]
                data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def endpoint():
    server = FakeChatEndpoint()
    yield server
    server.server.shutdown()
