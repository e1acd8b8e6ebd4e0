"""Event payloads, one module per bounded context.

Every service imports the payloads it produces or consumes from here, so the
schemas are the contract between services. Add a field with a default to keep
old events decodable; change a meaning with a new ``version`` or a new type.
"""
from . import diagnosis, enrolment, helpdesk, insurance, telemetry, training  # noqa: F401
