"""API errors of the emulator and the exact JSON bodies the real API answers with.

Handlers raise :class:`ApiError`; the server turns it into
``{"type":"error","error":{"type","message"[,"details"]},"request_id"}``. The SDK picks its
exception class from the status and ``error.details.error_code``, so both must be right.
"""

from __future__ import annotations

import secrets
import string

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

# The real API's error.type for each status it uses.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def type_for(status: int) -> str:
    """error.type for a status: the API's own, else by class (4xx invalid request, 5xx api)."""
    return ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def new_id(prefix: str) -> str:
    """An id shaped like the real ones (``file_011CNha8iCJcU1wXNR6q4V8w``): ``_011``, 21 base62."""
    return f"{prefix}_011" + "".join(secrets.choice(_BASE62) for _ in range(21))


class ApiError(Exception):
    """An error response: status, error.type, message, and optional details."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_code: str | None = None,
        details: dict | None = None,
        headers: dict | None = None,
        error_type: str | None = None,
        edge: bool = False,
        close: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or type_for(status)
        self.edge = edge  # answered by the edge proxy, before the API: its bare body shape
        self.close = close  # the connection cannot carry another request after this one
        self.details = dict(details or {})
        if error_code:
            self.details["error_code"] = error_code
        self.headers = dict(headers or {})

    def body(self, request_id: str) -> dict:
        """The JSON body; the edge proxy's has no top-level type or request_id."""
        error = {"type": self.error_type, "message": self.message}
        if self.edge:
            return {"error": error}
        if self.details:
            error["details"] = self.details
        return {"type": "error", "error": error, "request_id": request_id}


def bad_request(message: str, **kwargs) -> ApiError:
    return ApiError(400, message, **kwargs)


def not_found(file_id: str) -> ApiError:
    return ApiError(404, f"File `{file_id}` not found.")


def too_large() -> ApiError:
    # Cloudflare's wording; the body has no top-level type or request_id. The rest of the body
    # is not read, so the connection closes.
    return ApiError(413, "Request exceeds the maximum size", edge=True, close=True)
