"""Path converters: a path segment that cannot name an object never reaches a query (a NUL,
10 kB of junk or a 30-digit id would otherwise fail in the database, as a 500)."""


class SerialConverter:
    """A serial number as stored: letters, digits, `.`, `_` and `-`, at most 32."""

    regex = r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class IdConverter:
    """A database id: at most 18 digits, so it always fits a bigint."""

    regex = r"[0-9]{1,18}"
    MAX = 10**18 - 1

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
