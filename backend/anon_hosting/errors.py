"""Domain errors: every failure a client may see, with its HTTP status and code.

Contract: lower layers raise these; ``http.errors`` turns them into the one JSON
shape ``{"error": {"code": ..., "message": ...}}``. Messages are written for
people and never contain a token, a key or a path.
"""


class AppError(Exception):
    status = 500
    code = "internal_error"
    message = "Something went wrong on our side. Please try again."
    retry_after: int | None = None  # seconds, answered as Retry-After when set

    def __init__(self, message: str | None = None, retry_after: int | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        seconds = self.retry_after if retry_after is None else retry_after
        self.headers = dict(getattr(type(self), "headers", {}))  # a class's own headers (tus answers Tus-Version)
        if seconds is not None:
            self.headers["Retry-After"] = str(seconds)


class BadRequest(AppError):
    status, code = 400, "bad_request"
    message = "The request is malformed."


class CutShort(BadRequest):
    """An upload whose body ended before its end, or broke off: the client left or its connection failed."""
    message = "The upload was cut short."


class InvalidToken(AppError):
    status, code = 400, "invalid_token"
    message = "This token is not valid. Check that it was copied completely."


class NotFound(AppError):
    status, code = 404, "not_found"
    message = "There is no file for this token. It may have been deleted."


class Expired(AppError):
    status, code = 410, "expired"
    message = "This file has expired and is no longer available."


class TooLarge(AppError):
    status, code = 413, "too_large"
    message = "The file is larger than this server accepts."


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"
    message = (
        "Send the file as multipart/form-data (field 'file') or as a raw body "
        "with Content-Type: application/octet-stream."
    )


class InsufficientStorage(AppError):
    status, code = 507, "insufficient_storage"
    message = "The server has no room left to store this file."


class StorageUnavailable(AppError):
    status, code = 503, "storage_unavailable"
    message = "The file storage is not available right now."
    retry_after = 30  # an outage is worth a retry, not a reload loop


class KeysUnavailable(AppError):
    status, code = 503, "keys_unavailable"
    message = "The server's key set cannot be read right now."
    retry_after = 30


class CorruptFile(AppError):
    status, code = 500, "internal_error"
    message = "The stored file failed its integrity check and cannot be served."


class ConfigError(Exception):
    """Raised at start-up when the configuration is unusable; never reaches a client."""


class InternalError(AppError):
    """Anything unexpected; the details stay in the server log."""


class Unauthorized(AppError):
    status, code = 401, "unauthorized"
    message = "Uploading needs the upload password."


class PassphraseRequired(AppError):
    status, code = 401, "passphrase_required"
    message = "This file is protected by a passphrase. Enter it to continue."


class Forbidden(AppError):
    status, code = 403, "forbidden"
    message = "This token cannot do that. Deleting needs the owner token."


class WrongPassphrase(AppError):
    status, code = 403, "wrong_passphrase"
    message = "That passphrase is not correct."


class DownloadInProgress(AppError):
    status, code = 409, "download_in_progress"
    message = "The last allowed download of this file is in progress. Try again in a moment."


class DownloadLimitReached(AppError):
    status, code = 410, "download_limit_reached"
    message = "This file has already been downloaded as many times as allowed."


class RateLimited(AppError):
    status, code = 429, "rate_limited"
    message = "Too many attempts. Wait a few minutes and try again."
    retry_after = 60


class RequestTimeout(AppError):
    status, code = 408, "request_timeout"
    message = "The request stalled. Send it again."


class Busy(AppError):
    status, code = 503, "server_busy"
    message = "The server is busy checking other passphrases. Try again in a moment."
    retry_after = 1


class Conflict(AppError):
    status, code = 409, "offset_mismatch"
    message = "The upload is at another offset. Ask for its offset (HEAD) and resume from there."


class UploadUnfinished(AppError):
    status, code = 409, "upload_unfinished"
    message = "An upload to join is not finished yet. Send the rest of its bytes first."


class Locked(AppError):
    status, code = 423, "upload_busy"
    message = "Another request is writing to this upload. Try again in a moment."


class PreconditionFailed(AppError):
    status, code = 412, "unsupported_version"
    message = "This server speaks tus 1.0.0 only."
    headers = {"Tus-Version": "1.0.0"}
