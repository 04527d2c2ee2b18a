"""An HTTP proxy in front of an emulator that injects the faults real clouds produce.

The scanner talks to the proxy exactly as to AWS (through AWS_ENDPOINT_URL); a rule can answer
AccessDenied for one account, region or service, or make the whole endpoint vanish after a
number of requests. Nothing in the scanner's process is patched.
"""

from __future__ import annotations

import functools
import http.client
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import botocore.session

CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")
RPC_V2_PATH = re.compile(r"/service/[A-Za-z0-9]+/operation/([A-Za-z]+)")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    region: str | None
    service: str | None
    access_key: str | None
    target: str | None = None  # X-Amz-Target of the JSON protocol


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    json: bool = False  # DynamoDB speaks JSON; the rest XML


DENIED = Fault(403, "AccessDenied")
DENIED_JSON = Fault(403, "AccessDeniedException", json=True)


def operation_name(request: Request) -> str:
    """The API operation of a request: the query protocol's Action, the JSON protocol's target, the REST
    protocols' operation whose method and URI template match (from botocore's model of the service), or for S3
    the method, with the subresource (`?tagging`) that names it."""
    service = request.service or "?"
    action = re.search(rb"(?:^|&)Action=([A-Za-z]+)", request.body)
    if action:
        return f"{service}:{action.group(1).decode()}"
    if request.target:
        return f"{service}:{request.target.split('.')[-1]}"
    rpc = RPC_V2_PATH.fullmatch(urlsplit(request.path).path)  # Smithy RPC v2 CBOR (MemoryDB): the path names it
    if rpc:
        return f"{service}:{rpc.group(1)}"
    rest = rest_operation(service, request.method, urlsplit(request.path).path)
    if rest:
        return f"{service}:{rest}"
    subresource = urlsplit(request.path).query.split("=")[0].split("&")[0]
    return f"{service}:{request.method}{' ?' + subresource if subresource else ''}"


@functools.cache
def _rest_routes(signing_name: str) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """(method, path pattern, operation) of every operation of the REST-JSON/REST-XML services (not S3) that sign
    as `signing_name` (several may: `es` is both the Elasticsearch and the OpenSearch Service APIs, whose paths differ
    by version), literal templates first so `/file-systems/replication-configurations` is not `{FileSystemId}`."""
    session = botocore.session.get_session()
    routes = []
    for name in session.get_available_services():
        model = session.get_service_model(name)
        if model.signing_name != signing_name or model.protocol not in ("rest-json", "rest-xml") or name == "s3":
            continue
        for operation in model.operation_names:
            http = model.operation_model(operation).http
            template = http["requestUri"].split("?")[0]
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
            routes.append((template.count("{"), http["method"], re.compile(pattern + "/?"), operation))
    return tuple((method, pattern, op) for _, method, pattern, op in sorted(routes, key=lambda r: r[0]))


def rest_operation(signing_name: str, method: str, path: str) -> str | None:
    return next((op for verb, pattern, op in _rest_routes(signing_name) if verb == method and pattern.fullmatch(path)),
                None)


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.rules: list[tuple[Callable[[Request], bool], Fault]] = []
        self.vanish_after: int | None = None
        self.on_vanish: Callable[[], None] | None = None
        self.forwarded = 0
        self.faults_sent = 0
        self.operations: list[str] = []  # every API operation asked for, e.g. "ec2:DescribeRegions", "s3:GET /b"
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def deny(self, when: Callable[[Request], bool], fault: Fault = DENIED) -> None:
        self.rules.append((when, fault))

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, request: Request) -> Fault | bool | None:
        """A Fault to answer with, True to drop the connection, or None to forward."""
        with self._lock:
            self.operations.append(operation_name(request))
            if self.vanish_after is not None and self.forwarded >= self.vanish_after:
                if self.on_vanish:
                    self.on_vanish()
                    self.on_vanish = None
                return True
        for when, fault in self.rules:  # outside the lock: a rule may hold or delay its request
            if when(request):
                with self._lock:
                    self.faults_sent += 1
                return fault
        with self._lock:
            self.forwarded += 1
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = CREDENTIAL.search(self.headers.get("Authorization", ""))
                key, region, service = match.groups() if match else (None, None, None)
                request = Request(self.command, self.path, body, region, service, key, self.headers.get("X-Amz-Target"))
                decision = proxy._decide(request)
                if decision is True:
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(decision, Fault):
                    self._reply(decision)
                    return
                self._forward(body)

            def _reply(self, fault: Fault) -> None:
                if fault.json:
                    payload = f'{{"__type":"com.amazonaws.dynamodb.v20120810#{fault.code}","message":"denied by test"}}'
                    content_type = "application/x-amz-json-1.0"
                else:
                    payload = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code>"
                               f"<Message>denied by test</Message></Error><RequestId>t</RequestId></ErrorResponse>")
                    content_type = "text/xml"
                data = payload.encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _forward(self, body: bytes) -> None:
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                except OSError:
                    self.close_connection = True
                    self.connection.close()
                    return
                finally:
                    upstream.close()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        return Handler
