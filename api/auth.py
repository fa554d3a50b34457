"""Who is calling: the personal API token in `Authorization: Bearer <token>`, checked by
`core.tokens` on every request (a revoked token or a deactivated account stops working at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core import tokens
from core.services import Services
from core.users import UserView

bearer = HTTPBearer(auto_error=False, description="A personal API token from your Account page.")


def services(request: Request) -> Services:
    """The core services the app was built with (see `api.factory.build_api`)."""
    return request.app.state.services()


def current_user(
    svc: Annotated[Services, Depends(services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> UserView:
    return tokens.authenticate(svc.factory, credentials.credentials if credentials else None)


CurrentUser = Annotated[UserView, Depends(current_user)]
CoreServices = Annotated[Services, Depends(services)]
