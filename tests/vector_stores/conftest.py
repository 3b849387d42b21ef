"""The API fixtures of tests/api, for the vector-store routes."""

from tests.api.conftest import api, make_api

__all__ = ["api", "make_api"]
