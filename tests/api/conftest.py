from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from lims.api.tokens import token_rotate


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_rotate(user).key}")
    return client


@pytest.fixture
def api(staff) -> APIClient:
    """A staff user's script: token authentication, as the notebooks use."""
    return token_client(staff)


@pytest.fixture
def viewer_api(viewer) -> APIClient:
    return token_client(viewer)


@pytest.fixture
def anon_api(db) -> APIClient:
    return APIClient()
