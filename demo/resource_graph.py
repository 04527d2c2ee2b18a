"""Azure Resource Graph's query endpoint for demo/arm_server.py, over the resources the ARM server holds.

`POST /providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01` (or 2022-10-01) with a QueryRequest body
`{"subscriptions": [...] | "managementGroups": [...], "query": "...", "options": {"$top", "$skipToken",
"resultFormat": "objectArray"}}` answers a QueryResponse `{"totalRecords", "count", "data": [...], "facets": [],
"resultTruncated": "false", "$skipToken"?}`, as the Resource Graph REST reference documents them. Rows are the ARM
documents as the graph shows them: `type`, `location` and `resourceGroup` in lower case, `subscriptionId` added.

The KQL subset implemented is exactly what providers/azure_graph.py sends: a table (`Resources` or
`ResourceContainers`, whose rows are the subscriptions), then `where type =~ '...'`, `where type in~ ('...', ...)` and
`project col, ...`; anything else is 400 InvalidQuery. As the real service does, a subscription the caller cannot
read (`ArmServer.deny`) is left out silently, as is one passed to `hide(sub)` (a subscription the graph does not
index); `ArmServer.deny_path("microsoft.resourcegraph")` answers every query 403.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demo.arm_server import ArmServer

PATH = "/providers/microsoft.resourcegraph/resources"
API_VERSIONS = {"2021-03-01", "2022-10-01"}
MAX_TOP = 1000
_WHERE_EQ = re.compile(r"where\s+type\s*=~\s*'([^']+)'", re.IGNORECASE)
_WHERE_IN = re.compile(r"where\s+type\s+in~\s*\(([^)]*)\)", re.IGNORECASE)
_PROJECT = re.compile(r"project\s+([A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_][\w]*)*)", re.IGNORECASE)


class InvalidRequest(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ResourceGraph:
    """The query endpoint over one ArmServer's state; `management_groups` maps a group id to its subscriptions."""

    def __init__(self, arm: ArmServer):
        self.arm = arm
        self.management_groups: dict[str, set[str]] = {}
        self.hidden: set[str] = set()
        self.queries: list[str] = []
        self.truncate = False  # True: answer resultTruncated "true" with no $skipToken (a query that cannot page)
        self._lock = threading.Lock()

    def add_management_group(self, group: str, subscriptions: list[str]) -> None:
        self.management_groups[group.lower()] = {sub.lower() for sub in subscriptions}

    def hide(self, subscription: str) -> None:
        """The graph does not answer for this subscription (not indexed, another tenant)."""
        self.hidden.add(subscription.lower())

    # -- answering ----------------------------------------------------------------------------------
    def answer(self, query: dict[str, list[str]], body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            return 200, self._answer(query, body)
        except InvalidRequest as exc:
            return exc.status, {"error": {"code": exc.code, "message": exc.message}}

    def _answer(self, query: dict[str, list[str]], body: bytes) -> dict[str, Any]:
        version = (query.get("api-version") or [""])[0]
        if version not in API_VERSIONS:
            raise InvalidRequest(400, "InvalidApiVersionParameter", f"api-version '{version}' is not supported")
        state = self.arm.state
        with state.lock:
            if any(fragment in PATH for fragment in state.denied_paths):
                raise InvalidRequest(403, "AuthorizationFailed", "The client does not have authorization to perform "
                                     "action 'Microsoft.ResourceGraph/resources/read'.")
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            raise InvalidRequest(400, "BadRequest", "The request body is not JSON") from None
        text = request.get("query")
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequest(400, "BadRequest", "The query is required")
        with self._lock:
            self.queries.append(text)
        options = request.get("options") or {}
        if (options.get("resultFormat") or "objectArray") != "objectArray":
            raise InvalidRequest(400, "BadRequest", "Only resultFormat objectArray is implemented here")
        top = int(options.get("$top") or 100)
        if not 1 <= top <= MAX_TOP:
            raise InvalidRequest(400, "BadRequest", f"$top must be between 1 and {MAX_TOP}")
        rows = self._rows(text, self._scope(request))
        start = _offset(options.get("$skipToken"), text)
        end = start + min(top, self.arm.page_size)
        data = rows[start:end]
        answer: dict[str, Any] = {"totalRecords": len(rows), "count": len(data), "data": data, "facets": [],
                                  "resultTruncated": "true" if self.truncate and end < len(rows) else "false"}
        if end < len(rows) and not self.truncate:
            answer["$skipToken"] = _token(end, text)
        return answer

    def _scope(self, request: dict[str, Any]) -> set[str]:
        """The subscriptions the query runs over and the caller can read."""
        state = self.arm.state
        with state.lock:
            known = set(state.subscriptions)
            readable = known - state.denied - self.hidden
        if request.get("managementGroups"):
            scope: set[str] = set()
            for group in request["managementGroups"]:
                if group.lower() not in self.management_groups:
                    raise InvalidRequest(400, "BadRequest", f"Management group '{group}' was not found")
                scope |= self.management_groups[group.lower()]
            return scope & readable
        subscriptions = request.get("subscriptions")
        if not subscriptions:
            return readable  # tenant scope: every subscription the caller can read
        return {sub.lower() for sub in subscriptions} & readable

    def _rows(self, text: str, subscriptions: set[str]) -> list[dict[str, Any]]:
        table, *operators = [part.strip() for part in text.split("|")]
        if table.lower() == "resources":
            with self.arm.state.lock:
                rows = [_row(doc) for doc in self.arm.state.items.values() if "/providers/" in doc["id"].lower()]
        elif table.lower() == "resourcecontainers":
            with self.arm.state.lock:
                rows = [{"id": doc["id"], "name": doc["subscriptionId"], "type": "microsoft.resources/subscriptions",
                         "subscriptionId": doc["subscriptionId"], "properties": {"state": doc["state"]},
                         "tags": doc.get("tags") or {}} for doc in self.arm.state.subscriptions.values()]
        else:
            raise InvalidRequest(400, "InvalidQuery", f"Table '{table}' is not implemented here")
        rows = [row for row in rows if str(row["subscriptionId"]).lower() in subscriptions]
        for operator in operators:
            rows = _apply(operator, rows)
        return sorted(rows, key=lambda row: str(row.get("id", "")).lower())


def _row(doc: dict[str, Any]) -> dict[str, Any]:
    parts = doc["id"].split("/")
    lowered = [part.lower() for part in parts]
    group = parts[lowered.index("resourcegroups") + 1].lower() if "resourcegroups" in lowered else ""
    return {**doc, "type": doc["type"].lower(), "location": "".join(str(doc.get("location") or "").split()).lower(),
            "resourceGroup": group, "subscriptionId": parts[2], "tags": doc.get("tags") or {},
            "kind": doc.get("kind") or "", "sku": doc.get("sku"), "properties": doc.get("properties") or {}}


def _apply(operator: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if match := _WHERE_EQ.fullmatch(operator):
        wanted = {match.group(1).lower()}
        return [row for row in rows if str(row.get("type", "")).lower() in wanted]
    if match := _WHERE_IN.fullmatch(operator):
        wanted = {item.strip().strip("'").lower() for item in match.group(1).split(",") if item.strip()}
        return [row for row in rows if str(row.get("type", "")).lower() in wanted]
    if match := _PROJECT.fullmatch(operator):
        columns = [column.strip() for column in match.group(1).split(",")]
        return [{column: row.get(column) for column in columns} for row in rows]
    raise InvalidRequest(400, "InvalidQuery", f"Query operator '{operator}' is not implemented here")


def _token(offset: int, text: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "query": hash(text)}).encode()).decode()


def _offset(token: str | None, text: str) -> int:
    if not token:
        return 0
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise InvalidRequest(400, "BadRequest", "Invalid $skipToken") from None
    if decoded.get("query") != hash(text):
        raise InvalidRequest(400, "BadRequest", "The $skipToken belongs to another query")
    return int(decoded["offset"])
