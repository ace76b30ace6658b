"""CSRF tokens: tied to the session and the purpose, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Any

import pytest

from tests.web.webtesting import MemorySite
from torsion.web import forms
from torsion.web.resource import Resource
from torsion.web.server import Request


def requestOf(site: MemorySite, cookie: bytes | None = None) -> Request:
    request = Request(site.channel)
    request.site = site.site
    if cookie is not None:
        request.requestHeaders.setRawHeaders(b"cookie", [b"TORSION_SESSION=" + cookie])
    return request


def test_theTokenIsStableWithinASessionAndDiffersAcrossSessionsAndPurposes() -> None:
    site = MemorySite(Resource())
    first = requestOf(site)
    token = forms.csrfToken(first, "a")
    uid = first.getSession().uid
    again = requestOf(site, uid)
    assert forms.csrfToken(again, "a") == token
    assert forms.csrfToken(again, "b") != token
    assert forms.csrfToken(requestOf(site), "a") != token
    assert len(token) == 43


def test_checkAcceptsTheRightTokenAsStrOrBytes() -> None:
    request = requestOf(MemorySite(Resource()))
    token = forms.csrfToken(request)
    forms.checkCSRFToken(request, token)
    forms.checkCSRFToken(request, token.encode())


@pytest.mark.parametrize("token", [None, "", b"", "x", "é" * 43])
def test_checkRefusesAMissingOrWrongTokenWith403(token: Any) -> None:
    request = requestOf(MemorySite(Resource()))
    forms.csrfToken(request)
    with pytest.raises(forms.CSRFError) as refused:
        forms.checkCSRFToken(request, token)
    assert refused.value.status == b"403"
    assert refused.value.response is not None and b"not accepted" in refused.value.response


def test_theComparisonIsConstantTime(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    request = requestOf(MemorySite(Resource()))
    forms.checkCSRFToken(request, forms.csrfToken(request))
    assert len(calls) == 1


def test_theSecretIsASessionComponentAndGoesWithTheSession() -> None:
    site = MemorySite(Resource())
    request = requestOf(site)
    token = forms.csrfToken(request)
    session = request.getSession()
    assert len(session.getComponent(forms.ICSRFSecret).secret) == 32
    session.expire()
    later = requestOf(site, session.uid)
    with pytest.raises(forms.CSRFError):
        forms.checkCSRFToken(later, token)


def test_aRequestWithoutSessionsSaysWhatToDo() -> None:
    from torsion.web.http import Request as PlainRequest

    with pytest.raises(TypeError, match=r"torsion\.web\.server\.Site"):
        forms.csrfToken(PlainRequest(MemorySite(Resource()).channel))
