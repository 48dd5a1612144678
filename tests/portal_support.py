"""The portal as a person's browser uses it, over HTTP: sign in through the local sign-in page, read pages,
post forms with the page's CSRF token. For the portal's tests (the browser test clicks the same)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import requests

from localworld.entra_signin import USERS

TIMEOUT = 15
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


class PortalBrowser:
    """One person's cookie jar against the connector at `base_url`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def sign_in(self, upn: str, *, follow_answer: bool = True) -> requests.Response:
        """Open the portal, choose the user's tenant when the portal asks, pick `upn` on the sign-in page; the
        answer is the page the portal lands on (`follow_answer=False`: Entra's redirect back, not followed)."""
        picker = self.session.get(f"{self.base_url}/api/portal", timeout=TIMEOUT)
        if "Choose your organisation" in picker.text:
            tenant = next(user.tenant for user in USERS if user.upn == upn)
            picker = self.session.get(f"{self.base_url}/api/portal/signin?tenant={tenant}", timeout=TIMEOUT)
        assert picker.status_code == 200, picker.text[:500]
        assert "Pick an account" in picker.text, picker.text[:500]
        action = re.search(r'<form method="post" action="([^"]+)"', picker.text)
        assert action
        fields = {unescape(k): unescape(v) for k, v in _HIDDEN.findall(picker.text)}
        return self.session.post(
            urljoin(picker.url, action.group(1)),
            data={**fields, "username": upn},
            allow_redirects=follow_answer,
            timeout=TIMEOUT,
        )

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self.session.get(f"{self.base_url}{path}", timeout=TIMEOUT, **kwargs)

    def csrf(self, path: str = "/api/portal") -> str:
        page = self.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        return found.group(1)

    def post(self, path: str, data: dict[str, str], *, csrf: str | None = None, **kwargs: object) -> requests.Response:
        """Post a form; with the CSRF token of the portal's start page unless `csrf` is given ("" for none)."""
        token = self.csrf() if csrf is None else csrf
        form = {**data, **({"csrf": token} if token else {})}
        return self.session.post(f"{self.base_url}{path}", data=form, timeout=TIMEOUT, **kwargs)
