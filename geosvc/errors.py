"""One error tree for geosvc; only the web layer maps it to HTTP, only the CLI to exit codes."""

from __future__ import annotations


class GeosvcError(Exception):
    """Base error. ``http_status`` and ``ogc_code`` tell the web layer how to answer."""

    http_status = 500
    ogc_code = "NoApplicableCode"
    headers: dict[str, str] = {}  # extra response headers (read-only; subclasses replace it)

    def __init__(self, message: str, *, layer: str | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.layer = layer
        self.param = param

    def __str__(self) -> str:
        where = f"layer '{self.layer}': " if self.layer else ""
        where += f"parameter '{self.param}': " if self.param else ""
        return f"{where}{self.message}"


class RecordError(GeosvcError):
    """A layer record is missing, unparsable or does not match the schema."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


class SourceError(GeosvcError):
    """A layer's source cannot be read (missing, corrupt, wrong format...).

    ``code`` is the stable validation finding code, e.g. ``source.missing``.
    """

    http_status = 422

    def __init__(self, message: str, *, code: str = "source.unreadable", **kwargs):
        super().__init__(message, **kwargs)
        self.code = code


class ValidationFailed(GeosvcError):
    """A layer has error findings, so it cannot be published."""

    http_status = 422


class NotFound(GeosvcError):
    """An unknown layer / collection / item."""

    http_status = 404
    ogc_code = "NotFound"


class NotPublished(NotFound):
    """The layer exists in the registry but has no published version."""


class InvalidParameter(GeosvcError):
    """A request parameter is malformed or cannot be honoured."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


class StoreError(GeosvcError):
    """The store could not complete an operation (nothing was changed)."""

    http_status = 503


class Unauthorized(GeosvcError):
    """Credentials were sent but are not valid (bad, expired or revoked): never treated as anonymous."""

    http_status = 401
    ogc_code = "Unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="geosvc", Basic realm="geosvc", charset="UTF-8"'}


class Forbidden(GeosvcError):
    """The caller is known but lacks the role an operation needs (never used to hide a layer: that is a 404)."""

    http_status = 403
    ogc_code = "Forbidden"


class RetryLater(GeosvcError):
    """An answer that will be possible in ``retry_after`` seconds (sent as ``Retry-After``)."""

    def __init__(self, message: str, *, retry_after: int, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class TooManyRequests(RetryLater):
    """The caller's rate limit is spent; ``retry_after`` seconds until the next request fits."""

    http_status = 429
    ogc_code = "TooManyRequests"


class AuthUnavailable(GeosvcError):
    """The token issuer's keys cannot be fetched right now (the caller's credentials may well be fine)."""

    http_status = 503


class BudgetExceeded(GeosvcError):
    """A request used up its time budget before it could be answered (retry narrower or later)."""

    http_status = 503


class Preparing(RetryLater):
    """An answer needs a costly one-off computation that is under way (retry after ``retry_after`` s)."""

    http_status = 503


class PrivacyBudgetExhausted(GeosvcError):
    """A formal-privacy release would take a layer version past its privacy budget (nothing was released)."""

    http_status = 409
    ogc_code = "PrivacyBudgetExhausted"

    def __init__(self, layer: str, version: int, spent: float, epsilon: float, budget: float):
        super().__init__(f"v{version} has spent ε={spent:g} of its privacy budget ε={budget:g}; a release at "
                         f"ε={epsilon:g} would exceed it (tables already released stay available)", layer=layer)
        self.version, self.spent, self.epsilon, self.budget = version, spent, epsilon, budget
