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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import anthropic

from . import config
from .apiclock import ApiClock, utcnow
from .errors import AuthError, RemoteError, WorkspaceMismatch
from .limits import IDS_PER_LOOKUP
from .remote import NO_KEY, RemoteSpec

LIST_PAGE = 1000


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

    def live(self, now: datetime) -> bool:
        """Not expired at ``now`` (the API's time)."""
        return self.expires_at is None or self.expires_at > now


class FilesClient:
    """Upload, list and delete files in one remote (base URL + workspace)."""

    def __init__(
        self, remote: RemoteSpec, *, max_retries: int | None = None, clock: ApiClock | None = None
    ):
        retries = max_retries if max_retries is not None else config.max_retries()
        headers = {"anthropic-workspace-id": remote.workspace_id} if remote.workspace_id else None
        self.sdk = anthropic.Anthropic(
            base_url=remote.base_url, max_retries=retries, default_headers=headers
        )
        if not (self.sdk.api_key or self.sdk.auth_token or getattr(self.sdk, "credentials", None)):
            raise AuthError(NO_KEY)
        self.clock = clock or ApiClock()  # learns the API's time from every answer
        # The workspace the API says the key acts on (``anthropic-workspace-id``), from the
        # first answer; ``expected``, when set, is what it must be.
        self.reported_workspace: str | None = None
        self.expected_workspace: str | None = None
        self.label = remote.label
        self.base_url = remote.base_url

    def upload(
        self, filename: str, data: bytes, media_type: str, expires_in: int | None = None
    ) -> tuple[RemoteFile, int]:
        """The stored file, and how many retries the SDK needed (a retry may leave a copy)."""
        extra = {} if expires_in is None else {"expires_in_seconds": expires_in}
        with translated():
            response = self.sdk.files.with_raw_response.upload(
                file=(filename, data, media_type), **extra
            )
            self._observe(response)
            return _file(response.parse()), response.retries_taken

    def files(self, newer_than: datetime | None = None) -> Iterator[RemoteFile]:
        """Files in the workspace, newest first; only those created after ``newer_than``
        (a moment of the API's clock)."""
        with translated():
            response = self.sdk.files.with_raw_response.list(limit=LIST_PAGE)
            self._observe(response)
            for page in response.parse().iter_pages():
                for item in page.data:
                    remote_file = _file(item)
                    if newer_than is not None and remote_file.created_at < newer_than:
                        return
                    yield remote_file

    def lookup(
        self, ids: Sequence[str], on_chunk: Callable[[int], None] | None = None
    ) -> dict[str, RemoteFile]:
        """The files among ``ids`` the workspace can see (deleted and foreign ones are absent),
        ``IDS_PER_LOOKUP`` ids per request, each request's count of ids told to ``on_chunk``;
        the API's time (by which files expire) is learnt on the way, in ``clock``."""
        found: dict[str, RemoteFile] = {}
        with translated():
            for start in range(0, len(ids), IDS_PER_LOOKUP):
                chunk = list(ids[start : start + IDS_PER_LOOKUP])
                response = self.sdk.files.with_raw_response.list(ids=chunk)
                self._observe(response)
                found.update((f.id, _file(f)) for f in response.parse().data)
                if on_chunk is not None:
                    on_chunk(len(chunk))
        return found

    def measure_clock(self) -> None:
        """One small request, to learn the API's time and the key's workspace."""
        with translated():
            self._observe(self.sdk.files.with_raw_response.list(limit=1))

    def workspace(self) -> str | None:
        """The workspace the key acts on, as the API reports it: from the answers seen so
        far, else from one small request. None when the API does not say."""
        if self.reported_workspace is None:
            self.measure_clock()
        return self.reported_workspace

    def _observe(self, response) -> None:
        self.clock.observe(response.headers.get("date"), utcnow())
        reported = response.headers.get("anthropic-workspace-id")
        if reported and reported != self.reported_workspace:
            expected = self.expected_workspace or self.reported_workspace
            if expected is not None and reported != expected:
                raise WorkspaceMismatch(self.label, self.base_url, expected, reported)
            self.reported_workspace = reported

    def delete(self, file_id: str) -> None:
        with translated():
            try:
                self._observe(self.sdk.files.with_raw_response.delete(file_id))
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


def _file(item) -> RemoteFile:
    return RemoteFile(
        item.id, item.filename, item.size_bytes, item.created_at, getattr(item, "expires_at", None)
    )
