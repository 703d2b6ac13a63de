"""Errors raised for bad data: each names the file and the problem."""


class DataError(Exception):
    """Base class: a data file is missing, corrupt or malformed."""


class DataIntegrityError(DataError):
    """A file's hash does not match the one its spec declares."""


class DataUnavailableError(DataError):
    """A file could be found neither in the mirror nor at its public URL."""


class RecordingError(DataError):
    """A recording (manifest or its files) is malformed: shapes, NaN, asymmetry, stimulus order."""


class CorruptFileError(DataError):
    """A file the pipeline wrote itself (checkpoint, resume state, cache) is truncated or altered."""
