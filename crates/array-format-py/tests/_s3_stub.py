"""A minimal S3 server over a local directory, enough for the library to
open and read files through ``s3://`` URLs: ListObjectsV2, GET (with
ranges) and HEAD; writes are refused (403). ``on_get`` is called in the
serving thread before every object GET, so a test can hold requests."""

from __future__ import annotations

import email.utils
import hashlib
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape

BUCKET = "bucket"


class S3Stub:
    """Serves the files under ``root`` as objects of bucket ``bucket``."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.on_get: Callable[[str, str | None], None] | None = None
        self.refuse_gets = False
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                stub._get(self, body=True)

            def do_HEAD(self) -> None:
                stub._get(self, body=False)

            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                stub._error(self, 403, "AccessDenied")

            do_POST = do_PUT
            do_DELETE = do_PUT

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def options(self) -> dict[str, str]:
        """The storage options that reach this server."""
        return {
            "endpoint": self.endpoint,
            "allow_http": "true",
            "region": "us-east-1",
            "access_key_id": "test",
            "secret_access_key": "test",
            "timeout": "20s",
        }

    def url(self, key: str) -> str:
        return f"s3://{BUCKET}/{key}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- requests -----------------------------------------------------

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str) -> None:
        body = f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _get(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        url = urlparse(h.path)
        parts = unquote(url.path).lstrip("/").split("/", 1)
        if parts[0] != BUCKET:
            self._error(h, 404, "NoSuchBucket")
            return
        key = parts[1] if len(parts) > 1 else ""
        query = parse_qs(url.query)
        if not key and "list-type" in query:
            self._list(h, query)
            return
        if self.on_get is not None:
            self.on_get(key, h.headers.get("Range"))
        if self.refuse_gets:
            self._error(h, 403, "AccessDenied")
            return
        path = os.path.join(self.root, key)
        if not os.path.isfile(path):
            self._error(h, 404, "NoSuchKey")
            return
        with open(path, "rb") as fh:
            data = fh.read()
        st = os.stat(path)
        status, start, end = 200, 0, len(data)
        rng = h.headers.get("Range")
        if rng:
            first, _, last = rng.removeprefix("bytes=").partition("-")
            if first == "":
                start = max(len(data) - int(last), 0)
            else:
                start = int(first)
                end = min(int(last) + 1, len(data)) if last else len(data)
            if start >= len(data):
                self._error(h, 416, "InvalidRange")
                return
            status = 206
        chunk = data[start:end]
        h.send_response(status)
        h.send_header("Content-Length", str(len(chunk)))
        h.send_header("ETag", f'"{hashlib.md5(data).hexdigest()}"')
        h.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        h.end_headers()
        if body:
            h.wfile.write(chunk)

    def _list(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        prefix = query.get("prefix", [""])[0]
        delimiter = query.get("delimiter", [None])[0]
        keys, prefixes = [], set()
        for dirpath, _, files in os.walk(self.root):
            for name in files:
                key = os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix) :]
                if delimiter and delimiter in rest:
                    prefixes.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
                else:
                    keys.append(key)
        contents = "".join(
            f"<Contents><Key>{escape(k)}</Key>"
            f"<LastModified>2024-01-01T00:00:00.000Z</LastModified>"
            f'<ETag>"e"</ETag><Size>{os.path.getsize(os.path.join(self.root, k))}</Size>'
            f"<StorageClass>STANDARD</StorageClass></Contents>"
            for k in sorted(keys)
        )
        common = "".join(
            f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>"
            for p in sorted(prefixes)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{BUCKET}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(keys) + len(prefixes)}</KeyCount><MaxKeys>1000</MaxKeys>"
            f"<IsTruncated>false</IsTruncated>{contents}{common}</ListBucketResult>"
        ).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
