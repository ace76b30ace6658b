"""HTML forms declared in Python: rendered, parsed, validated and protected from CSRF.

The successor of Nevow's Freeform. Declare a form as a class whose attributes are
fields; the order of declaration is the order on the page::

    class Signup(forms.Form):
        name = forms.String(required=True, maxLength=80)
        avatar = forms.File(maxSize=2 * 1024 * 1024, accept=("image/png",))

`form.render(request)` gives template tags (torsion.web.template) for the whole
form: each input with its label (bound by id), help text, constraints the browser
can check, the values re-filled and the error next to its field after a failed
submission, and the CSRF token in a hidden field. `await form.process(request)`
reads the submission (urlencoded or multipart, streamed: uploads go to disk as they
are read, within their size limit), checks the token against the session, cleans
and validates each field, runs the form's `validate` for checks across fields, and
gives a `FormResult`. `FormResource(form, onSuccess)` is the usual page: GET shows
the form, POST validates it and either shows it again with its errors or calls
`onSuccess` and redirects (Post/Redirect/Get).

Tests: tests/web/forms/. Documentation: docs/web-forms.md.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from zope.interface import Attribute, Interface, implementer

from torsion.internet import defer
from torsion.web import resource, server
from torsion.web._csrf import CSRF_FIELD, CSRFError, ICSRFSecret, checkCSRFToken, csrfToken
from torsion.web._formfields import (
    Boolean,
    Choice,
    Date,
    Decimal,
    Email,
    Field,
    File,
    Float,
    Integer,
    Length,
    MultiChoice,
    Password,
    Regex,
    String,
    Text,
    UploadedFile,
    ValidationError,
)
from torsion.web._formparse import Submission, readSubmission
from torsion.web.error import Error
from torsion.web.template import Tag, flattenString, tags

__all__ = [
    "CSRF_FIELD",
    "FORM_ERROR",
    "Boolean",
    "CSRFError",
    "Choice",
    "Date",
    "Decimal",
    "Email",
    "Field",
    "File",
    "Float",
    "Form",
    "FormResource",
    "FormResult",
    "ICSRFSecret",
    "IFlashMessages",
    "Integer",
    "Length",
    "MultiChoice",
    "Password",
    "Redirect",
    "Regex",
    "String",
    "Text",
    "UploadedFile",
    "ValidationError",
    "checkCSRFToken",
    "csrfToken",
    "flash",
    "redirectAfterPost",
    "takeFlashes",
]

FORM_ERROR = ""
"""The key of `FormResult.errors` for an error about the whole form, not one field."""


class Form:
    """A form: subclass it and declare fields as class attributes.

    Class attributes that tune it: `method` ("post", or "get" for a search form,
    which then has no CSRF token), `submitLabel`, `csrf` (True: a token tied to the
    session is required), `maxFields` (fields a submission may send, 1000),
    `maxFieldSize` (bytes of one text value, 1 MiB), `uploadDirectory` (where
    uploads' temporary directories go; the system's temporary directory if None).
    All but `method` may also be set on one form object.
    """

    fields: ClassVar[dict[str, Field]] = {}
    method: ClassVar[str] = "post"
    # These may be set on a subclass or on one form object.
    submitLabel: str = "Submit"
    csrf: bool = True
    maxFields: int = 1000
    maxFieldSize: int = 1024 * 1024
    uploadDirectory: str | None = None
    yieldEvery: int = 1024 * 1024

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.method.lower() not in ("get", "post"):
            raise ValueError(f"{cls.__name__}.method is 'get' or 'post', not {cls.method!r}")
        collected: dict[str, Field] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Field):
                    collected[name] = value
                elif name in collected and value is None:
                    del collected[name]  # a subclass removes a field by setting it to None
        if CSRF_FIELD in collected:
            raise ValueError(f"{cls.__name__}: the field name {CSRF_FIELD!r} is the CSRF token's")
        cls.fields = collected

    def __init__(
        self,
        *,
        initial: Mapping[str, Any] | None = None,
        idPrefix: str | None = None,
    ) -> None:
        """A form to render and process.

        Args:
            initial: values shown when the form is first rendered, by field name.
            idPrefix: what element ids start with (by default the class name in lower
                case and a hyphen), so that two forms can share a page.
        """
        unknown = set(initial or ()) - set(self.fields)
        if unknown:
            raise ValueError(f"initial values for fields {type(self).__name__} has not: {unknown}")
        self.initial = dict(initial or {})
        self.idPrefix = idPrefix if idPrefix is not None else type(self).__name__.lower() + "-"

    @property
    def csrfPurpose(self) -> str:
        """What this form's CSRF token is made for: its class's qualified name."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    @property
    def hasFiles(self) -> bool:
        return any(field.isFile for field in self.fields.values())

    def validate(self, values: dict[str, Any]) -> None:
        """Check the fields together, once each is valid on its own; override it.

        Raise ValidationError(message, field="name") to put the message next to a
        field, or ValidationError(message) for the whole form. `values` may be
        changed in place (to normalise, or to add values made from others).
        """

    # -- rendering ---------------------------------------------------------------------

    def texts(self) -> dict[str, list[str]]:
        """The texts that show this form's initial values (and fields' defaults)."""
        shown: dict[str, list[str]] = {}
        for name, field in self.fields.items():
            value = self.initial.get(name, field.default)
            shown[name] = field.display(value)
        return shown

    def render(
        self,
        request: Any,
        action: bytes | str = b"",
        *,
        texts: Mapping[str, list[str]] | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> Tag:
        """The form as template tags: every field with its label, help and error.

        Args:
            request: the request being answered (its session holds the CSRF secret).
            action: the URL the form is sent to; the page's own URL if empty.
            texts: what to show in each field (by default, the initial values).
            errors: the message to show next to each field (FORM_ERROR: above them).
        """
        shown = self.texts() if texts is None else texts
        errors = errors or {}
        attributes: dict[str, str] = {"method": self.method.lower(), "accept-charset": "utf-8"}
        if action:
            attributes["action"] = action.decode("utf-8") if isinstance(action, bytes) else action
        if self.hasFiles:
            attributes["enctype"] = "multipart/form-data"
        children: list[Any] = []
        if self.csrf and self.method.lower() == "post":
            token = csrfToken(request, self.csrfPurpose)
            children.append(tags.input(type="hidden", name=CSRF_FIELD, value=token))
        if FORM_ERROR in errors:
            children.append(tags.div(class_="form-error", role="alert")(tags.p(errors[FORM_ERROR])))
        for name, field in self.fields.items():
            children.append(self.renderField(field, shown.get(name, []), errors.get(name)))
        children.append(
            tags.div(class_="form-actions")(tags.button(type="submit")(self.submitLabel))
        )
        return tags.form(**attributes)(children)

    def renderField(self, field: Field, texts: list[str], error: str | None) -> Tag:
        """One field's block: label, input, help text and error (override to restyle)."""
        inputId = self.idPrefix + field.name
        described = []
        after: list[Any] = []
        if field.help:
            described.append(inputId + "-help")
            after.append(tags.p(class_="form-help", id=inputId + "-help")(field.help))
        if error:
            described.append(inputId + "-error")
            after.append(tags.p(class_="form-field-error", id=inputId + "-error")(error))
        extra: dict[str, str] = {}
        if described:
            extra["aria-describedby"] = " ".join(described)
        if error:
            extra["aria-invalid"] = "true"
        classes = f"form-field form-{type(field).__name__.lower()}"
        if error:
            classes += " form-invalid"
        if field.required:
            classes += " form-required"
        if field.grouped:
            # A group of inputs: the legend labels them all, the fieldset carries the
            # references to the help and error.
            return tags.fieldset(class_=classes, id=inputId, **extra)(
                tags.legend(field.label), field.widget(inputId, texts, {}), after
            )
        label = tags.label(**{"for": inputId})(field.label)
        return tags.div(class_=classes)(label, field.widget(inputId, texts, extra), after)

    # -- processing --------------------------------------------------------------------

    def process(self, request: Any) -> defer.Deferred[FormResult]:
        """Read, check and validate what `request` sent; a Deferred of the FormResult.

        Uploaded files are removed when the request finishes, unless moved away
        (UploadedFile.moveTo). The Deferred fails with CSRFError (403) when the token
        is missing or wrong, and with web.error.Error (400, 413, 415) when the body is
        not a form or goes over a limit; raised from a resource, each becomes a page
        that says what was wrong.
        """
        return defer.ensureDeferred(self._process(request))

    async def _process(self, request: Any) -> FormResult:
        fromQuery = self.method.lower() == "get"
        if not fromQuery and request.method != b"POST":
            raise Error(405, None, b"This form is sent with POST.")
        submission = await readSubmission(
            request,
            self.fields,
            maxFields=self.maxFields,
            maxFieldSize=self.maxFieldSize,
            uploadDirectory=self.uploadDirectory,
            yieldEvery=self.yieldEvery,
            fromQuery=fromQuery,
            alsoRead=(CSRF_FIELD,),
        )
        try:
            if self.csrf and not fromQuery:
                token = _tokenSent(request, submission)
                checkCSRFToken(request, token, self.csrfPurpose)
            result = self.check(submission)
        except BaseException:
            submission.discard()
            raise
        result.request = request
        _discardWhenFinished(request, submission)
        return result

    def check(self, submission: Submission) -> FormResult:
        """Clean every field of `submission`, then validate the form as a whole."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = dict(submission.problems)
        for name, field in self.fields.items():
            if name in errors:
                continue
            try:
                if isinstance(field, File):
                    values[name] = field.cleanFile(submission.uploads.get(name))
                else:
                    values[name] = field.clean(submission.texts.get(name, []))
            except ValidationError as refused:
                errors[name] = refused.message
        if not errors:
            try:
                self.validate(values)
            except ValidationError as refused:
                where = refused.field if refused.field in self.fields else FORM_ERROR
                errors[where or FORM_ERROR] = refused.message
        shown = {name: list(submission.texts.get(name, [])) for name in self.fields}
        return FormResult(self, values if not errors else {}, errors, shown, submission)


# The token comes as a field like the others; it is read by name, not declared.
def _tokenSent(request: Any, submission: Submission) -> str | None:
    return submission.texts.get(CSRF_FIELD, [None])[0]


def _discardWhenFinished(request: Any, submission: Submission) -> None:
    if not submission.uploads and submission.directory is None:
        return
    notifyFinish = getattr(request, "notifyFinish", None)
    if notifyFinish is None:
        return
    finished = notifyFinish()
    finished.addBoth(lambda _: submission.discard())


class FormResult:
    """The outcome of processing a submission.

    `ok` is True when every field is valid; then `values` holds each field's clean
    value by name (an UploadedFile or None for a file field). Otherwise `errors` maps
    field names (FORM_ERROR for the whole form) to messages, and `render` shows the
    form again with what the user sent and the errors next to the fields.
    """

    request: Any = None

    def __init__(
        self,
        form: Form,
        values: dict[str, Any],
        errors: dict[str, str],
        texts: dict[str, list[str]],
        submission: Submission,
    ) -> None:
        self.form = form
        self.values = values
        self.errors = errors
        self.texts = texts
        self._submission = submission

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"errors={self.errors!r}"
        return f"<FormResult of {type(self.form).__name__} {state}>"

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def uploads(self) -> dict[str, UploadedFile]:
        """Every file received, valid or not (removed when the request finishes)."""
        return dict(self._submission.uploads)

    def render(self, request: Any = None, action: bytes | str = b"") -> Tag:
        """The form again, showing what was sent and the errors next to the fields."""
        return self.form.render(
            request if request is not None else self.request,
            action,
            texts=self.texts,
            errors=self.errors,
        )

    def discard(self) -> None:
        """Remove the uploaded files now (unless moved), not at the end of the request."""
        self._submission.discard()


# -- Post/Redirect/Get ---------------------------------------------------------------------


class Redirect:
    """What an onSuccess callback returns to send the browser to `url` (303 See Other)."""

    __slots__ = ("url",)

    def __init__(self, url: bytes | str) -> None:
        self.url = url.encode("utf-8") if isinstance(url, str) else url
        if b"\r" in self.url or b"\n" in self.url:
            raise ValueError("a redirect URL may not contain CR or LF")


def redirectAfterPost(request: Any, url: bytes | str | None = None) -> bytes:
    """Answer a successful POST with 303 See Other to `url` (by default the same URL).

    The browser then GETs that page, so reloading it does not send the form again.
    Returns a short body for the resource to return.
    """
    target = Redirect(url if url is not None else request.uri).url
    request.setResponseCode(303)
    request.setHeader(b"location", target)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    link = html.escape(target.decode("utf-8", "replace"))
    return f'<!DOCTYPE html>\n<p>Done: <a href="{link}">go on</a>.</p>\n'.encode()


class IFlashMessages(Interface):
    """Messages kept in the session for the next page shown (after a redirect)."""

    messages = Attribute("A list of str, oldest first.")


@implementer(IFlashMessages)
class _FlashMessages:
    __slots__ = ("messages",)
    limit = 20

    def __init__(self) -> None:
        self.messages: list[str] = []


def flash(request: Any, message: str) -> None:
    """Keep `message` in the session to show on the next page (after a redirect).

    At most 20 wait at a time; older ones are dropped first.
    """
    session = request.getSession()
    box = session.getComponent(IFlashMessages)
    if box is None:
        box = _FlashMessages()
        session.setComponent(IFlashMessages, box)
    box.messages.append(message)
    del box.messages[: -_FlashMessages.limit]


def takeFlashes(request: Any) -> list[str]:
    """The messages `flash` kept for this session, removed from it."""
    session = request.getSession()
    box = session.getComponent(IFlashMessages)
    if box is None or not box.messages:
        return []
    messages: list[str] = box.messages
    box.messages = []
    return messages


def _defaultPage(request: Any, title: str, flashes: list[str], form: Tag) -> Any:
    notes = [tags.p(class_="form-flash", role="status")(message) for message in flashes]
    return tags.html(lang="en")(
        tags.head(tags.meta(charset="utf-8"), tags.title(title)),
        tags.body(tags.h1(title) if title else [], notes, form),
    )


OnSuccess = Callable[[Any, FormResult], Any]
PageMaker = Callable[[Any, str, list[str], Tag], Any]


class FormResource(resource.Resource):
    """A page for one form: GET shows it, POST processes it.

    On a valid submission `onSuccess(request, result)` is called (it may return a
    Deferred or be a coroutine function) and what it returns decides the answer:
    None redirects (303) to the same URL, so the browser shows a fresh form with a
    GET (use `flash` for a message on it); a `Redirect(url)` redirects there; bytes
    are the response body. An invalid submission gets the form again with its errors
    and status 400 (`invalidCode`). `page(request, title, flashes, formTag)` makes
    the whole page around the form (a Tag or anything template tags flatten). `form`
    is a Form, or a Form class to make one of.
    """

    isLeaf = True

    def __init__(
        self,
        form: Form | type[Form],
        onSuccess: OnSuccess | Callable[[Any, FormResult], Awaitable[Any]],
        *,
        title: str = "",
        page: PageMaker | None = None,
        invalidCode: int = 400,
    ) -> None:
        super().__init__()
        self.form = form() if isinstance(form, type) else form
        self.onSuccess = onSuccess
        self.title = title
        self.page = page or _defaultPage
        self.invalidCode = invalidCode

    def render_GET(self, request: Any) -> Any:
        if self.form.method.lower() == "get" and request.uri.partition(b"?")[2]:
            return defer.ensureDeferred(self._submitted(request))
        return self._page(request, self.form.render(request))

    def render_POST(self, request: Any) -> Any:
        if self.form.method.lower() == "get":
            raise Error(405, None, b"This form is sent with GET.")
        return defer.ensureDeferred(self._submitted(request))

    async def _submitted(self, request: Any) -> Any:
        result = await self.form.process(request)
        if getattr(request, "_disconnected", False):
            # The client left while its upload was copied: nobody to answer, and its
            # files are already gone (removed when the request ended).
            return server.NOT_DONE_YET
        if not result.ok:
            request.setResponseCode(self.invalidCode)
            return await self._page(request, result.render(request))
        outcome = self.onSuccess(request, result)
        if isinstance(outcome, defer.Deferred) or hasattr(outcome, "__await__"):
            outcome = await outcome
        if outcome is None:
            return redirectAfterPost(request)
        if isinstance(outcome, Redirect):
            return redirectAfterPost(request, outcome.url)
        if isinstance(outcome, bytes) or outcome is server.NOT_DONE_YET:
            return outcome
        raise TypeError(
            f"onSuccess returned {outcome!r}: it returns None (redirect to the same page), "
            "a forms.Redirect, bytes, or NOT_DONE_YET"
        )

    def _page(self, request: Any, form: Tag) -> defer.Deferred[bytes]:
        flashes = takeFlashes(request)
        page = self.page(request, self.title, flashes, form)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        d = flattenString(request, page)
        d.addCallback(lambda body: b"<!DOCTYPE html>\n" + body)
        return d
