"""Test support: faster-whisper-server's OpenAI-compatible app, served over TLS with an API key.

faster-whisper-server's own command line serves plain HTTP and checks no key; servers people
put on a network (speaches, vLLM, LocalAI) answer 401 to a wrong Bearer token and sit behind
TLS. So the same app runs here under uvicorn's TLS, behind that check (the way those servers
and reverse proxies do it), to test the device against both.

    python tests/openai_server_main.py MODEL_DIR --port N --ssl-certfile C --ssl-keyfile K
        [--api-key-file F]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


class RequireApiKey:
    """ASGI middleware: requests without ``Authorization: Bearer <key>`` get OpenAI's 401."""

    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.expected = f"Bearer {key}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] != "/health":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if given != self.expected:
                body = json.dumps(
                    {"error": {"message": "Incorrect API key provided", "type": "invalid_api_key"}}
                ).encode()
                headers = [(b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ssl-certfile")
    parser.add_argument("--ssl-keyfile")
    parser.add_argument("--api-key-file")
    args = parser.parse_args()

    import uvicorn
    from faster_whisper_server.api import app
    from faster_whisper_server.models import configure_model

    os.environ["FWS_MODEL_NAME"] = args.model
    configure_model(args.model)
    served: Any = app
    if args.api_key_file:
        served = RequireApiKey(app, Path(args.api_key_file).read_text().strip())
    uvicorn.run(
        served,
        host="127.0.0.1",
        port=args.port,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        log_level="info",
    )


if __name__ == "__main__":
    main()
