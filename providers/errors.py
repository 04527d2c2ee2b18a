"""The one error describer of every provider: an exception from any cloud SDK -> (one line, denied?).

The line is what the scan record, logs and alerts show: the cloud's error code and message (AWS), the HTTP status,
ARM code and message (Azure), the HTTP status and message (Google), never a credential or a token. `denied` says
the cloud refused our identity (recorded as `denied`, not `error`), as opposed to an outage, a throttle or a bug.
An SDK that was never imported cannot have raised, so each check runs only if its module is loaded.
"""

from __future__ import annotations

import sys

from scanner.errors import InputError

LIMIT = 400  # characters of a described error
AWS_DENIED_CODES = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure", "OptInRequired",
    "UnauthorizedAccess", "AccessDeniedForDependencyException",
}
AZURE_DENIED_CODES = {
    "AuthorizationFailed", "AuthenticationFailed", "InvalidAuthenticationToken",
    "InvalidAuthenticationTokenTenant", "ExpiredAuthenticationToken", "LinkedAuthorizationFailed",
}


def describe_error(exc: BaseException) -> tuple[str, bool]:
    """A one-line description of `exc` (never a secret) and whether it means access was denied."""
    for describer in (_aws, _azure, _google):
        described = describer(exc)
        if described is not None:
            text, denied = described
            return one_line(text), denied
    if isinstance(exc, InputError):
        return one_line(str(exc)), False
    return one_line(f"{type(exc).__name__}: {exc}"), False


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError; None for anything else."""
    if "botocore.exceptions" not in sys.modules:
        return None
    from botocore.exceptions import ClientError

    return exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None


def one_line(text: str, limit: int = LIMIT) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _aws(exc: BaseException) -> tuple[str, bool] | None:
    if "botocore.exceptions" not in sys.modules:
        return None
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return None
    code = exc.response.get("Error", {}).get("Code", "ClientError")
    message = exc.response.get("Error", {}).get("Message", "")
    return f"{code}: {message}".strip(": "), code in AWS_DENIED_CODES


def _azure(exc: BaseException) -> tuple[str, bool] | None:
    if "azure.core.exceptions" not in sys.modules:
        return None
    from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError

    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        code = getattr(exc.error, "code", None) if exc.error else None
        message = (getattr(exc.error, "message", None) if exc.error else None) or exc.reason or str(exc)
        denied = exc.status_code in (401, 403) or code in AZURE_DENIED_CODES
        return f"HTTP {exc.status_code} {code or exc.reason or ''}: {message}", denied
    if isinstance(exc, ClientAuthenticationError):
        return f"no usable Azure credential: {exc.message}", False
    if isinstance(exc, ServiceRequestError):
        return f"cannot reach the ARM endpoint: {exc.message}", False
    if isinstance(exc, AzureError):
        return f"{type(exc).__name__}: {exc.message}", False
    return None


def _google(exc: BaseException) -> tuple[str, bool] | None:
    if "google.api_core.exceptions" not in sys.modules:
        return None
    from google.api_core import exceptions as gexc

    denied = isinstance(exc, (gexc.Forbidden, gexc.Unauthorized))
    if isinstance(exc, gexc.GoogleAPICallError):
        return f"HTTP {exc.code}: {exc.message}", denied
    return None
