"""Fixtures of the reliability tests."""

from tests.reliability.helpers import fake_clock

__all__ = ["fake_clock"]
