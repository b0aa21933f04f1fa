"""``FilesClient``: the Files API through the official SDK. The only module importing it.

The SDK's own retries (with backoff, honouring ``retry-after``) absorb rate limits,
overload and dropped connections; what still fails comes out as one of:

- ``AuthError``: the key is missing or refused (401/403): stop at once;
- ``UploadRefused``: the API refused this request for a reason about it (400, 413);
- ``RemoteUnsure``: no clear answer (connection lost, 429/5xx after every retry):
  the request may or may not have taken effect, so the caller must look.

Nothing here logs or repeats the key, the request bodies or image bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import anthropic

from . import config
from .errors import AuthError, RemoteError
from .remote import NO_KEY, RemoteSpec

LIST_PAGE = 1000
IDS_PER_LOOKUP = 100


class UploadRefused(RemoteError):
    """The API answered, and refused this one request."""


class RemoteUnsure(RemoteError):
    """No clear answer: the request may or may not have taken effect."""


@dataclass(frozen=True)
class RemoteFile:
    id: str
    filename: str
    size_bytes: int
    created_at: datetime
    expires_at: datetime | None


class FilesClient:
    """Upload, list and delete files in one remote (base URL + workspace)."""

    def __init__(self, remote: RemoteSpec, *, max_retries: int | None = None):
        retries = max_retries if max_retries is not None else config.max_retries()
        headers = {"anthropic-workspace-id": remote.workspace_id} if remote.workspace_id else None
        self.sdk = anthropic.Anthropic(
            base_url=remote.base_url, max_retries=retries, default_headers=headers
        )
        if not (self.sdk.api_key or self.sdk.auth_token or getattr(self.sdk, "credentials", None)):
            raise AuthError(NO_KEY)

    def upload(
        self, filename: str, data: bytes, media_type: str, expires_in: int | None = None
    ) -> tuple[RemoteFile, int]:
        """The stored file, and how many retries the SDK needed (a retry may leave a copy)."""
        extra = {} if expires_in is None else {"expires_in_seconds": expires_in}
        with translated():
            response = self.sdk.files.with_raw_response.upload(
                file=(filename, data, media_type), **extra
            )
            return _file(response.parse()), response.retries_taken

    def files(self, newer_than: datetime | None = None) -> Iterator[RemoteFile]:
        """Files in the workspace, newest first; only those created after ``newer_than``."""
        with translated():
            for item in self.sdk.files.list(limit=LIST_PAGE):
                remote_file = _file(item)
                if newer_than is not None and remote_file.created_at < newer_than:
                    return
                yield remote_file

    def lookup(self, ids: Sequence[str]) -> tuple[dict[str, RemoteFile], datetime | None]:
        """The files among ``ids`` the workspace can see (deleted and foreign ones are absent),
        and the API's own time (its ``Date`` header), by which files expire."""
        found: dict[str, RemoteFile] = {}
        server_now = None
        with translated():
            for start in range(0, len(ids), IDS_PER_LOOKUP):
                response = self.sdk.files.with_raw_response.list(
                    ids=list(ids[start : start + IDS_PER_LOOKUP])
                )
                found.update((f.id, _file(f)) for f in response.parse().data)
                server_now = _server_time(response.headers.get("date")) or server_now
        return found, server_now

    def delete(self, file_id: str) -> None:
        with translated():
            try:
                self.sdk.files.delete(file_id)
            except anthropic.NotFoundError:
                pass  # already gone: what we wanted


class translated:
    """Turns the SDK's exceptions into assetmgr's, with the API's own message."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _tb) -> bool:
        if error is None or not isinstance(error, anthropic.AnthropicError):
            return False
        raise _translate(error) from error


def _translate(error: anthropic.AnthropicError) -> Exception:
    if isinstance(error, (anthropic.AuthenticationError, anthropic.PermissionDeniedError)):
        return AuthError(f"the API refused the key ({_describe(error)}); check ANTHROPIC_API_KEY")
    if isinstance(error, (anthropic.RateLimitError, anthropic.InternalServerError)):
        return RemoteUnsure(f"{_describe(error)} after every retry")
    if isinstance(error, anthropic.APIStatusError):
        return UploadRefused(_describe(error))
    if isinstance(error, anthropic.APIConnectionError):
        return RemoteUnsure(f"no answer from the API ({type(error).__name__})")
    return RemoteError(str(error).splitlines()[0])


def _describe(error: anthropic.APIStatusError) -> str:
    message = getattr(error, "api_message", None) or _body_message(error) or error.message
    return f"{error.status_code}: {message}"


def _body_message(error: anthropic.APIStatusError) -> str | None:
    body = error.body if isinstance(error.body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else {}
    return inner.get("message")


def _server_time(header: str | None) -> datetime | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(header) if header else None
    except (TypeError, ValueError):
        return None


def _file(item) -> RemoteFile:
    return RemoteFile(
        item.id, item.filename, item.size_bytes, item.created_at, getattr(item, "expires_at", None)
    )
