"""The field types of torsion.web.forms: what each accepts, how it says no, how it looks.

A field turns the text a browser sent for it into a Python value (`clean`), raising
`ValidationError` with a sentence a user can act on, and draws its input element
(`widget`) from template tags. Re-filled values are the text the user sent, not the
cleaned value, so a rejected "12x" shows as "12x" beside its error.

Tests: tests/web/forms/test_fields.py.
"""

from __future__ import annotations

import datetime
import decimal
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from torsion.web.template import Tag, tags

__all__ = [
    "Boolean",
    "Choice",
    "Date",
    "Decimal",
    "Email",
    "Field",
    "File",
    "Float",
    "Integer",
    "Length",
    "MultiChoice",
    "Password",
    "Regex",
    "String",
    "Text",
    "UploadedFile",
    "ValidationError",
]


class ValidationError(ValueError):
    """A value a form cannot accept, with the message to show next to its field.

    Raised by fields and validators; a form's own `validate` raises it with `field`
    naming the field it belongs to, or without for an error about the whole form.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


Validator = Callable[[Any], None]


class Length:
    """A validator: the value (text or list) has between `min` and `max` items."""

    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        self.min = min
        self.max = max

    def __call__(self, value: Any) -> None:
        if self.min is not None and len(value) < self.min:
            raise ValidationError(f"Enter at least {self.min} characters.")
        if self.max is not None and len(value) > self.max:
            raise ValidationError(f"Enter at most {self.max} characters.")


class Regex:
    """A validator: the whole text matches `pattern`; `message` says what is expected."""

    def __init__(self, pattern: str | re.Pattern[str], message: str) -> None:
        self.pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        self.message = message

    def __call__(self, value: Any) -> None:
        if self.pattern.fullmatch(value) is None:
            raise ValidationError(self.message)


def _humanSize(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            amount = size / scale
            return f"{amount:.0f} {unit}" if amount == int(amount) else f"{amount:.1f} {unit}"
    return f"{size} bytes"


class Field:
    """One input of a form: its label, help text, whether it is required, its checks.

    Declare fields as class attributes of a `forms.Form`; the attribute's name is the
    input's name, and the order of declaration is the order on the page.
    """

    inputType = "text"
    takesList = False
    """True if the field's value is a list of everything sent under its name."""
    isFile = False
    grouped = False
    """True if the widget is a group of inputs (radio buttons, checkboxes), shown in
    a fieldset whose legend is the label."""
    requiredMessage = "This field is required."

    name: str = ""

    def __init__(
        self,
        *,
        required: bool = False,
        label: str | None = None,
        help: str | None = None,
        default: Any = None,
        validators: Iterable[Validator] = (),
        attributes: dict[str, str] | None = None,
    ) -> None:
        self.required = required
        self._label = label
        self.help = help
        self.default = default
        self.validators = list(validators)
        self.attributes = dict(attributes or {})

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def label(self) -> str:
        """The label shown for the input: as given, else made from the field's name."""
        if self._label is not None:
            return self._label
        return self.name.replace("_", " ").strip().capitalize()

    # -- parsing -----------------------------------------------------------------------

    def clean(self, texts: Sequence[str]) -> Any:
        """The value of what was sent under this field's name (all of it, in order).

        Raises:
            ValidationError: if it is missing while required, or not acceptable.
        """
        text = texts[0].strip() if texts else ""
        if not text:
            if self.required:
                raise ValidationError(self.requiredMessage)
            return self.emptyValue()
        value = self.convert(text)
        self.runValidators(value)
        return value

    def runValidators(self, value: Any) -> None:
        for validator in self.validators:
            validator(value)

    def emptyValue(self) -> Any:
        """The value of an optional field left empty."""
        return None

    def convert(self, text: str) -> Any:
        """The value of non-empty text (stripped of surrounding white space)."""
        return text

    def display(self, value: Any) -> list[str]:
        """The text that shows `value` (an initial value) in the input."""
        if value is None:
            return []
        return [str(value)]

    # -- rendering ---------------------------------------------------------------------

    def inputAttributes(self) -> dict[str, str]:
        """HTML attributes that tell the browser this field's constraints."""
        attributes = {"required": "required"} if self.required else {}
        attributes.update(self.attributes)
        return attributes

    def widget(self, id: str, texts: Sequence[str], attributes: dict[str, str]) -> Tag:
        """The input element, showing `texts`, with `attributes` (id, aria-*) added."""
        value = {"value": texts[0]} if texts else {}
        return tags.input(
            type=self.inputType,
            id=id,
            name=self.name,
            **value,
            **self.inputAttributes(),
            **attributes,
        )


class String(Field):
    """One line of text, optionally bounded in length or held to a pattern."""

    def __init__(
        self,
        *,
        minLength: int | None = None,
        maxLength: int | None = None,
        pattern: str | None = None,
        patternMessage: str = "Enter a value in the expected format.",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.minLength = minLength
        self.maxLength = maxLength
        self.pattern = pattern
        if minLength is not None or maxLength is not None:
            self.validators.insert(0, Length(minLength, maxLength))
        if pattern is not None:
            self.validators.insert(0, Regex(pattern, patternMessage))

    def inputAttributes(self) -> dict[str, str]:
        attributes = super().inputAttributes()
        if self.maxLength is not None:
            attributes.setdefault("maxlength", str(self.maxLength))
        if self.minLength is not None:
            attributes.setdefault("minlength", str(self.minLength))
        if self.pattern is not None:
            attributes.setdefault("pattern", self.pattern)
        return attributes


class Text(String):
    """Several lines of text, in a textarea; line ends are kept (as "\\n")."""

    def clean(self, texts: Sequence[str]) -> Any:
        text = texts[0].replace("\r\n", "\n") if texts else ""
        if not text.strip():
            if self.required:
                raise ValidationError(self.requiredMessage)
            return self.emptyValue()
        self.runValidators(text)
        return text

    def widget(self, id: str, texts: Sequence[str], attributes: dict[str, str]) -> Tag:
        attributes = {**self.inputAttributes(), **attributes}
        attributes.pop("pattern", None)
        return tags.textarea(id=id, name=self.name, **attributes)(texts[0] if texts else "")


class Password(String):
    """A secret: never sent back to the browser, not even when the form is re-shown."""

    inputType = "password"

    def clean(self, texts: Sequence[str]) -> Any:
        # A password's spaces are part of it: not stripped.
        text = texts[0] if texts else ""
        if not text:
            if self.required:
                raise ValidationError(self.requiredMessage)
            return self.emptyValue()
        self.runValidators(text)
        return text

    def display(self, value: Any) -> list[str]:
        return []

    def widget(self, id: str, texts: Sequence[str], attributes: dict[str, str]) -> Tag:
        return super().widget(id, (), attributes)


class Email(String):
    """An e-mail address (the address only, no display name), with a lower-case domain."""

    inputType = "email"
    _LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")

    def convert(self, text: str) -> Any:
        local, at, domain = text.rpartition("@")
        problem = "Enter an e-mail address such as name@example.com."
        if not at or not self._LOCAL.fullmatch(local) or len(text) > 254:
            raise ValidationError(problem)
        if local.startswith(".") or local.endswith(".") or ".." in local:
            raise ValidationError(problem)
        try:
            ascii = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValidationError(problem) from None
        labels = ascii.split(".")
        if len(labels) < 2 or not all(
            re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label)
            for label in labels
        ):
            raise ValidationError(problem)
        return f"{local}@{domain.lower()}"


class _Number(Field):
    inputType = "number"
    kind = "a number"

    def __init__(self, *, min: Any = None, max: Any = None, **options: Any) -> None:
        super().__init__(**options)
        self.min = min
        self.max = max

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def convert(self, text: str) -> Any:
        try:
            value = self.parse(text)
        except (ValueError, ArithmeticError):
            raise ValidationError(f"Enter {self.kind}.") from None
        if self.min is not None and value < self.min:
            raise ValidationError(f"Enter a number no smaller than {self.min}.")
        if self.max is not None and value > self.max:
            raise ValidationError(f"Enter a number no greater than {self.max}.")
        return value

    def inputAttributes(self) -> dict[str, str]:
        attributes = super().inputAttributes()
        if self.min is not None:
            attributes.setdefault("min", str(self.min))
        if self.max is not None:
            attributes.setdefault("max", str(self.max))
        return attributes


class Integer(_Number):
    """A whole number, optionally between `min` and `max` (both included)."""

    kind = "a whole number"

    def parse(self, text: str) -> Any:
        if len(text) > 100 or not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValueError(text)
        return int(text)


class Float(_Number):
    """A number with a fraction, as a float (finite: no "nan" or "inf")."""

    def parse(self, text: str) -> Any:
        if len(text) > 100:
            raise ValueError(text)
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value

    def inputAttributes(self) -> dict[str, str]:
        attributes = super().inputAttributes()
        attributes.setdefault("step", "any")
        return attributes


class Decimal(_Number):
    """An exact decimal number (decimal.Decimal), with at most `places` after the point."""

    def __init__(self, *, places: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.places = places

    def parse(self, text: str) -> Any:
        if len(text) > 100 or not re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)", text):
            raise ValueError(text)
        return decimal.Decimal(text)

    def convert(self, text: str) -> Any:
        value = super().convert(text)
        exponent = value.as_tuple().exponent
        if self.places is not None and isinstance(exponent, int) and -exponent > self.places:
            raise ValidationError(f"Enter a number with at most {self.places} decimal places.")
        return value

    def inputAttributes(self) -> dict[str, str]:
        attributes = super().inputAttributes()
        step = "any" if self.places is None else str(decimal.Decimal(1).scaleb(-self.places))
        attributes.setdefault("step", step)
        return attributes


class Boolean(Field):
    """A checkbox: True when ticked. Required means it must be ticked (terms accepted)."""

    inputType = "checkbox"
    requiredMessage = "Tick this box to go on."

    def clean(self, texts: Sequence[str]) -> Any:
        ticked = bool(texts) and texts[0].strip().lower() not in ("", "0", "false", "off", "no")
        if self.required and not ticked:
            raise ValidationError(self.requiredMessage)
        self.runValidators(ticked)
        return ticked

    def display(self, value: Any) -> list[str]:
        return ["on"] if value else []

    def widget(self, id: str, texts: Sequence[str], attributes: dict[str, str]) -> Tag:
        ticked = bool(texts) and texts[0].strip().lower() not in ("", "0", "false", "off", "no")
        checked = {"checked": "checked"} if ticked else {}
        return tags.input(
            type="checkbox",
            id=id,
            name=self.name,
            value="on",
            **checked,
            **self.inputAttributes(),
            **attributes,
        )


def _choicePairs(choices: Iterable[str | tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = []
    for choice in choices:
        if isinstance(choice, str):
            pairs.append((choice, choice))
        else:
            value, label = choice
            pairs.append((str(value), str(label)))
    if not pairs:
        raise ValueError("a choice field needs at least one choice")
    return pairs


class Choice(Field):
    """One of a fixed set of values, from a drop-down list (or radio buttons).

    `choices` are strings, or (value, label) pairs when what is shown differs from
    what is sent. Anything else sent is refused: a browser only sends the options.
    With `radio`, each choice is a radio button with its own label.
    """

    invalidMessage = "Choose one of the options."
    groupInputType = "radio"

    def __init__(
        self,
        choices: Iterable[str | tuple[str, str]],
        *,
        placeholder: str = "",
        radio: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.choices = _choicePairs(choices)
        self.placeholder = placeholder
        self.grouped = radio
        self._values = {value for value, _ in self.choices}

    def buttons(self, id: str, texts: Sequence[str]) -> Tag:
        """The choices as labelled radio buttons or checkboxes, for a fieldset."""
        chosen = set(texts)
        attributes = self.inputAttributes()
        if self.groupInputType == "checkbox":
            attributes.pop("required", None)  # on a checkbox it means "tick this one"
        return tags.div(class_="form-options")(
            [
                tags.label(**{"for": f"{id}-{index}"})(
                    tags.input(
                        type=self.groupInputType,
                        id=f"{id}-{index}",
                        name=self.name,
                        value=value,
                        **({"checked": "checked"} if value in chosen else {}),
                        **attributes,
                    ),
                    " ",
                    label,
                )
                for index, (value, label) in enumerate(self.choices)
            ]
        )

    def convert(self, text: str) -> Any:
        if text not in self._values:
            raise ValidationError(self.invalidMessage)
        return text

    def options(self, texts: Sequence[str]) -> list[Tag]:
        chosen = set(texts)
        return [
            tags.option(value=value, **({"selected": "selected"} if value in chosen else {}))(label)
            for value, label in self.choices
        ]

    def widget(self, id: str, texts: Sequence[str], attributes: dict[str, str]) -> Tag:
        if self.grouped:
            return self.buttons(id, texts)
        empty = [] if self.default is not None else [tags.option(value="")(self.placeholder)]
        return tags.select(id=id, name=self.name, **self.inputAttributes(), **attributes)(
            empty + self.options(texts)
        )


class MultiChoice(Choice):
    """Any number of a fixed set of values (a list, in the order of the choices).

    A list that allows several choices, or with `checkboxes`, a checkbox each.
    """

    takesList = True
    groupInputType = "checkbox"
    requiredMessage = "Choose at least one option."
    invalidMessage = "Choose among the options only."

    def clean(self, texts: Sequence[str]) -> Any:
        sent = {text for text in texts if text}
        if sent - self._values:
            raise ValidationError(self.invalidMessage)
        if self.required and not sent:
            raise ValidationError(self.requiredMessage)
        value = [choice for choice, _ in self.choices if choice in sent]
        self.runValidators(value)
        return value

    def display(self, value: Any) -> list[str]:
        return [str(item) for item in value or ()]

    def __init__(
        self,
        choices: Iterable[str | tuple[str, str]],
        *,
        checkboxes: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(choices, radio=checkboxes, **options)

    def widget(self, id: str, texts: Sequence[str], attributes: dict[str, str]) -> Tag:
        if self.grouped:
            return self.buttons(id, texts)
        return tags.select(
            id=id, name=self.name, multiple="multiple", **self.inputAttributes(), **attributes
        )(self.options(texts))


class Date(Field):
    """A calendar date (datetime.date) written YYYY-MM-DD, as a browser's date input sends."""

    inputType = "date"
    _FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

    def __init__(
        self,
        *,
        min: datetime.date | None = None,
        max: datetime.date | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.min = min
        self.max = max

    def convert(self, text: str) -> Any:
        if not self._FORM.fullmatch(text):
            raise ValidationError("Enter a date as YYYY-MM-DD.")
        try:
            value = datetime.date.fromisoformat(text)
        except ValueError:
            raise ValidationError("Enter a date that exists.") from None
        if self.min is not None and value < self.min:
            raise ValidationError(f"Enter a date no earlier than {self.min.isoformat()}.")
        if self.max is not None and value > self.max:
            raise ValidationError(f"Enter a date no later than {self.max.isoformat()}.")
        return value

    def display(self, value: Any) -> list[str]:
        if isinstance(value, datetime.date):
            return [value.isoformat()]
        return super().display(value)

    def inputAttributes(self) -> dict[str, str]:
        attributes = super().inputAttributes()
        if self.min is not None:
            attributes.setdefault("min", self.min.isoformat())
        if self.max is not None:
            attributes.setdefault("max", self.max.isoformat())
        return attributes


class UploadedFile:
    """A file that came with a form, saved under a temporary directory.

    `filename` is the name the browser gave (without any directory part: never use
    it as a path as is), `contentType` the type it claimed (not checked against the
    content), `path` where the bytes are, `size` how many there are. The file is
    removed when the request finishes unless `moveTo` moved it first.
    """

    __slots__ = ("_moved", "contentType", "filename", "path", "size")

    def __init__(self, filename: str, contentType: str, path: Path, size: int) -> None:
        self.filename = filename
        self.contentType = contentType
        self.path = path
        self.size = size
        self._moved = False

    def __repr__(self) -> str:
        return f"<UploadedFile {self.filename!r} {self.contentType} {self.size} bytes>"

    def open(self) -> IO[bytes]:
        """The file's content, opened for reading (close it when done)."""
        return self.path.open("rb")

    def read(self) -> bytes:
        """The whole content (only for files small enough to hold in memory)."""
        return self.path.read_bytes()

    def moveTo(self, destination: str | os.PathLike[str]) -> Path:
        """Keep the file: move it to `destination` (a file path); return where it went."""
        target = Path(destination)
        shutil.move(str(self.path), str(target))
        self.path = target
        self._moved = True
        return target

    def discard(self) -> None:
        """Remove the file now, unless it was moved (what the end of the request does)."""
        if not self._moved:
            self.path.unlink(missing_ok=True)


class File(Field):
    """A file upload, streamed to disk; its value is an UploadedFile, or None if none.

    `maxSize` bounds the file in bytes (10 MiB by default; the site's body limit
    bounds the whole request too); `accept` lists the content types ("image/png",
    "image/*") or file name endings (".png") allowed, as the browser claims them.
    """

    inputType = "file"
    isFile = True
    requiredMessage = "Choose a file to upload."

    def __init__(
        self,
        *,
        maxSize: int = 10 * 1024 * 1024,
        accept: Sequence[str] = (),
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if maxSize < 0:
            raise ValueError("maxSize is a number of bytes, 0 or more")
        self.maxSize = maxSize
        self.accept = tuple(item.lower() for item in accept)

    @property
    def tooLargeMessage(self) -> str:
        return f"The file is larger than {_humanSize(self.maxSize)}; choose a smaller one."

    def accepts(self, filename: str, contentType: str) -> bool:
        """True if a file of this name and claimed type is one `accept` allows."""
        if not self.accept:
            return True
        mimeType = contentType.partition(";")[0].strip().lower()
        lowerName = filename.lower()
        for pattern in self.accept:
            if pattern.startswith("."):
                if lowerName.endswith(pattern):
                    return True
            elif pattern.endswith("/*"):
                if mimeType.startswith(pattern[:-1]):
                    return True
            elif mimeType == pattern:
                return True
        return False

    def cleanFile(self, upload: UploadedFile | None) -> UploadedFile | None:
        """The value of a file field, given the upload (None when nothing was chosen)."""
        if upload is None:
            if self.required:
                raise ValidationError(self.requiredMessage)
            return None
        if not self.accepts(upload.filename, upload.contentType):
            raise ValidationError("Choose a file of type " + ", ".join(self.accept) + ".")
        self.runValidators(upload)
        return upload

    def clean(self, texts: Sequence[str]) -> Any:
        # A urlencoded body cannot carry a file: whatever text came is no upload.
        return self.cleanFile(None)

    def display(self, value: Any) -> list[str]:
        return []

    def inputAttributes(self) -> dict[str, str]:
        attributes = super().inputAttributes()
        if self.accept:
            attributes.setdefault("accept", ",".join(self.accept))
        return attributes

    def widget(self, id: str, texts: Sequence[str], attributes: dict[str, str]) -> Tag:
        return super().widget(id, (), attributes)
