"""One error tree for geosvc; only the web layer maps it to HTTP, only the CLI to exit codes."""

from __future__ import annotations


class GeosvcError(Exception):
    """Base error. ``http_status`` and ``ogc_code`` tell the web layer how to answer."""

    http_status = 500
    ogc_code = "NoApplicableCode"

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


class BudgetExceeded(GeosvcError):
    """A request used up its time budget before it could be answered (retry narrower or later)."""

    http_status = 503
