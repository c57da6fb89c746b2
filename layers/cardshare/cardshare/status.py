"""The model card statuses SageMaker knows, and parsing them strictly."""

from __future__ import annotations

from enum import StrEnum


class CardStatus(StrEnum):
    """ModelCardStatus values from the SageMaker API reference."""

    DRAFT = "Draft"
    PENDING_REVIEW = "PendingReview"
    APPROVED = "Approved"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, value: object, field: str = "ModelCardStatus") -> CardStatus:
        """Return the status named by ``value``; raise ``ValueError`` naming ``field`` otherwise."""
        for status in cls:
            if status.value == value:
                return status
        allowed = ", ".join(s.value for s in cls)
        raise ValueError(f"{field}: unknown model card status {value!r} (expected one of {allowed})")
