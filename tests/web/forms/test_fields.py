"""Fields: what each type accepts and refuses (with what message), order, labels, widgets."""

from __future__ import annotations

import datetime
import decimal
from pathlib import Path
from typing import Any

import pytest

from torsion.web import forms
from torsion.web._formparse import Submission
from torsion.web.template import flattenString


def html(tag: Any) -> str:
    return flattenString(None, tag).result.decode()  # type: ignore[no-any-return]


def clean(field: forms.Field, *texts: str) -> Any:
    return field.clean(list(texts))


def refused(field: forms.Field, *texts: str) -> str:
    with pytest.raises(forms.ValidationError) as caught:
        field.clean(list(texts))
    return caught.value.message


class Everything(forms.Form):
    name = forms.String(required=True, maxLength=10, label="Your name", help="As on your card")
    bio = forms.Text(maxLength=200)
    secret = forms.Password(minLength=4)
    age = forms.Integer(min=0, max=150)
    ratio = forms.Float(min=0.0)
    price = forms.Decimal(places=2)
    agree = forms.Boolean(required=True)
    colour = forms.Choice(["red", ("grn", "Green")])
    tags_ = forms.MultiChoice(["a", "b", "c"])
    email = forms.Email()
    born = forms.Date(max=datetime.date(2020, 1, 1))
    avatar = forms.File(maxSize=100, accept=("image/png", ".gif"))


def test_fieldsKeepTheirDeclarationOrder() -> None:
    assert list(Everything.fields) == [
        "name",
        "bio",
        "secret",
        "age",
        "ratio",
        "price",
        "agree",
        "colour",
        "tags_",
        "email",
        "born",
        "avatar",
    ]


def test_subclassesAddFieldsAfterTheirBasesAndMayRemoveOne() -> None:
    class More(Everything):
        extra = forms.String()
        bio = None  # type: ignore[assignment]

    assert list(More.fields)[-1] == "extra"
    assert "bio" not in More.fields
    assert list(Everything.fields)[1] == "bio"


def test_theCsrfFieldNameIsReserved() -> None:
    with pytest.raises(ValueError, match="CSRF"):
        type("Bad", (forms.Form,), {"_csrf": forms.String()})


def test_labelsDefaultToTheFieldName() -> None:
    assert Everything.fields["name"].label == "Your name"
    assert Everything.fields["tags_"].label == "Tags"
    assert forms.String().label == ""


def test_stringStripsAndBoundsLength() -> None:
    field = Everything.fields["name"]
    assert clean(field, "  Ann ") == "Ann"
    assert refused(field, "   ") == "This field is required."
    assert refused(field, "x" * 11) == "Enter at most 10 characters."
    assert clean(forms.String(), "") is None


def test_stringPattern() -> None:
    field = forms.String(pattern="[a-z]+", patternMessage="Lower-case letters only.")
    assert clean(field, "abc") == "abc"
    assert refused(field, "abc1") == "Lower-case letters only."


def test_textKeepsLinesAndPasswordKeepsSpaces() -> None:
    assert clean(Everything.fields["bio"], "a\r\nb") == "a\nb"
    assert clean(Everything.fields["secret"], " pass ") == " pass "
    assert refused(Everything.fields["secret"], "abc") == "Enter at least 4 characters."


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("150", 150), ("+7", 7), (" 42 ", 42)])
def test_integerAccepts(text: str, value: int) -> None:
    assert clean(Everything.fields["age"], text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "Enter a number no smaller than 0."),
        ("151", "Enter a number no greater than 150."),
        ("1.5", "Enter a whole number."),
        ("12x", "Enter a whole number."),
        ("٣", "Enter a whole number."),
        ("9" * 200, "Enter a whole number."),
    ],
)
def test_integerRefuses(text: str, message: str) -> None:
    assert refused(Everything.fields["age"], text) == message


def test_floatAndDecimal() -> None:
    assert clean(Everything.fields["ratio"], "0.25") == 0.25
    assert refused(Everything.fields["ratio"], "nan") == "Enter a number."
    assert refused(Everything.fields["ratio"], "inf") == "Enter a number."
    assert refused(Everything.fields["ratio"], "-0.5") == "Enter a number no smaller than 0.0."
    assert clean(Everything.fields["price"], "19.99") == decimal.Decimal("19.99")
    assert refused(Everything.fields["price"], "1.999") == (
        "Enter a number with at most 2 decimal places."
    )
    assert refused(Everything.fields["price"], "1e5") == "Enter a number."


def test_booleanRequiredMeansTicked() -> None:
    field = Everything.fields["agree"]
    assert clean(field, "on") is True
    assert refused(field) == "Tick this box to go on."
    assert clean(forms.Boolean()) is False


def test_choiceAcceptsOnlyItsValues() -> None:
    field = Everything.fields["colour"]
    assert clean(field, "grn") == "grn"
    assert refused(field, "Green") == "Choose one of the options."
    assert clean(field, "") is None
    with pytest.raises(ValueError, match="at least one choice"):
        forms.Choice([])


def test_multiChoiceGivesAListInChoiceOrder() -> None:
    field = Everything.fields["tags_"]
    assert clean(field, "c", "a", "c") == ["a", "c"]
    assert clean(field) == []
    assert refused(field, "a", "z") == "Choose among the options only."
    assert refused(forms.MultiChoice(["a"], required=True)) == "Choose at least one option."


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a@example.com", "a@example.com"),
        ("A.B+c@Example.COM", "A.B+c@example.com"),
        ("x@bücher.de", "x@bücher.de"),
    ],
)
def test_emailAccepts(text: str, value: str) -> None:
    assert clean(Everything.fields["email"], text) == value


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "@example.com",
        "a@",
        "a@b",
        "a b@example.com",
        "a..b@example.com",
        "a@-x.com",
        "a@" + "x" * 64 + ".com",
        "<script>@x.com",
    ],
)
def test_emailRefuses(text: str) -> None:
    assert refused(Everything.fields["email"], text).startswith("Enter an e-mail address")


def test_date() -> None:
    field = Everything.fields["born"]
    assert clean(field, "2000-02-29") == datetime.date(2000, 2, 29)
    assert refused(field, "2001-02-29") == "Enter a date that exists."
    assert refused(field, "20000101") == "Enter a date as YYYY-MM-DD."
    assert refused(field, "2021-01-01") == "Enter a date no later than 2020-01-01."


def test_fileAcceptAndRequired(tmp_path: Path) -> None:
    field = Everything.fields["avatar"]
    assert isinstance(field, forms.File)
    png = forms.UploadedFile("a.PNG", "image/png", tmp_path / "a", 3)
    gif = forms.UploadedFile("b.gif", "application/octet-stream", tmp_path / "b", 3)
    text = forms.UploadedFile("c.txt", "text/plain", tmp_path / "c", 3)
    assert field.cleanFile(png) is png
    assert field.cleanFile(gif) is gif
    with pytest.raises(forms.ValidationError, match=r"image/png, \.gif"):
        field.cleanFile(text)
    assert field.cleanFile(None) is None
    with pytest.raises(forms.ValidationError, match="Choose a file"):
        forms.File(required=True).cleanFile(None)
    assert forms.File(accept=("image/*",)).accepts("x", "image/jpeg; q=1")
    assert forms.File(maxSize=2 * 1024 * 1024).tooLargeMessage.startswith(
        "The file is larger than 2 MiB"
    )


def test_customValidatorsRunAfterConversion() -> None:
    def even(value: int) -> None:
        if value % 2:
            raise forms.ValidationError("Enter an even number.")

    field = forms.Integer(validators=[even])
    assert clean(field, "4") == 4
    assert refused(field, "3") == "Enter an even number."


def check(form: forms.Form, texts: dict[str, list[str]]) -> forms.FormResult:
    submission = Submission()
    submission.texts = texts
    return form.check(submission)


class Passwords(forms.Form):
    password = forms.Password(required=True)
    again = forms.Password(required=True)

    def validate(self, values: dict[str, Any]) -> None:
        if values["password"] != values["again"]:
            raise forms.ValidationError("The passwords differ.", field="again")
        if values["password"] == "password":
            raise forms.ValidationError("Choose a better password.")


def test_formValidateRunsOnlyWhenFieldsAreValid() -> None:
    assert check(Passwords(), {"password": ["a"], "again": ["b"]}).errors == {
        "again": "The passwords differ."
    }
    assert check(Passwords(), {"password": ["password"], "again": ["password"]}).errors == {
        forms.FORM_ERROR: "Choose a better password."
    }
    result = check(Passwords(), {"password": ["a"]})
    assert result.errors == {"again": "This field is required."}
    assert not result.ok and result.values == {}
    good = check(Passwords(), {"password": ["x y"], "again": ["x y"]})
    assert good.ok and good.values == {"password": "x y", "again": "x y"}


def test_renderedFieldsHaveBoundLabelsHelpAndConstraints() -> None:
    form = Everything(idPrefix="e-")
    form.csrf = False
    page = html(form.render(None, "/go"))
    assert '<label for="e-name">Your name</label>' in page
    assert 'id="e-name"' in page and 'maxlength="10"' in page and 'required="required"' in page
    assert 'aria-describedby="e-name-help"' in page and ">As on your card<" in page
    assert 'enctype="multipart/form-data"' in page and 'action="/go"' in page
    assert 'accept="image/png,.gif"' in page and 'type="file"' in page
    assert '<option value="grn">Green</option>' in page
    assert 'multiple="multiple"' in page and "<textarea" in page
    assert 'type="email"' in page and 'type="date"' in page and 'max="2020-01-01"' in page
    assert 'step="0.01"' in page
    assert page.index('id="e-name"') < page.index('id="e-bio"') < page.index('id="e-avatar"')


def test_renderedErrorsSitNextToTheirFieldAndValuesAreRefilledEscaped() -> None:
    form = Everything(idPrefix="e-")
    form.csrf = False
    hostile = '"><script>alert(1)</script>'
    result = check(
        form,
        {
            "name": [hostile],
            "secret": ["hunter2"],
            "age": ["12x"],
            "bio": ["</textarea>"],
            "colour": ["grn"],
            "tags_": ["a", "c"],
            "agree": ["on"],
        },
    )
    page = html(result.render(None))
    assert "<script>" not in page and "</textarea>" not in page.replace("</textarea>", "", 1)
    assert "&lt;script&gt;" in page
    assert "hunter2" not in page
    age = page[page.index('id="e-age"') - 200 : page.index('id="e-age-error"') + 80]
    assert 'value="12x"' in age and 'aria-invalid="true"' in age
    assert "Enter a whole number." in age
    assert '<option value="grn" selected="selected">' in page
    assert '<option value="a" selected="selected">' in page
    assert 'checked="checked"' in page
    assert "Enter at most 10 characters." in page


def test_initialValuesAreShown() -> None:
    form = Everything(initial={"age": 7, "born": datetime.date(2001, 2, 3), "secret": "no"})
    form.csrf = False
    page = html(form.render(None))
    assert 'value="7"' in page and 'value="2001-02-03"' in page and '"no"' not in page
    with pytest.raises(ValueError, match="nope"):
        Everything(initial={"nope": 1})


def test_methodMustBeGetOrPost() -> None:
    with pytest.raises(ValueError, match="'get' or 'post'"):
        type("Bad", (forms.Form,), {"method": "put"})


class Grouped(forms.Form):
    size = forms.Choice(["s", ("m", "Medium")], radio=True, required=True, help="Pick one")
    extras = forms.MultiChoice(["cheese", "ham"], checkboxes=True, required=True)


def test_radioButtonsAndCheckboxesAreAFieldsetWithALegend() -> None:
    form = Grouped(idPrefix="g-")
    form.csrf = False
    result = check(form, {"size": ["m"], "extras": []})
    page = html(result.render(None))
    size = page[page.index('<fieldset class="form-field form-choice') : page.index("</fieldset>")]
    assert "<legend>Size</legend>" in size and 'aria-describedby="g-size-help"' in size
    assert '<label for="g-size-1"><input type="radio" id="g-size-1" name="size" value="m"' in size
    assert 'checked="checked"' in size and size.count('required="required"') == 2
    extras = page[page.index('id="g-extras"') - 80 :]
    assert 'aria-invalid="true"' in extras and "Choose at least one option." in extras
    assert 'type="checkbox"' in extras and "required" not in extras.split("<legend>")[1]
    assert check(form, {"size": ["s"], "extras": ["ham", "cheese"]}).values == {
        "size": "s",
        "extras": ["cheese", "ham"],
    }
