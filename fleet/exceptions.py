"""FleetInputError: why a fleet service refused — a stable code, a sentence for a person and the
field it is about; the same shape as tokens.exceptions.TokenError. api.problems renders it."""


class FleetInputError(Exception):
    def __init__(self, message: str, *, code: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
