from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tasktracker.domain import rules
from tasktracker.domain.errors import ValidationError


def field_errors(error: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = error.value.details["fields"]
    return fields


# Titles


def test_title_is_trimmed() -> None:
    assert rules.normalize_title("  Buy milk \n") == "Buy milk"


@pytest.mark.parametrize("title", ["", "   ", "\t\n", None])
def test_title_is_required(title: str | None) -> None:
    with pytest.raises(ValidationError) as error:
        rules.normalize_title(title)
    assert "title" in field_errors(error)


def test_title_of_200_characters_is_accepted_even_with_surrounding_spaces() -> None:
    assert rules.normalize_title("  " + "t" * 200 + "  ") == "t" * 200


def test_title_of_201_characters_is_rejected() -> None:
    with pytest.raises(ValidationError) as error:
        rules.normalize_title("t" * 201)
    assert "title" in field_errors(error)


def test_blank_description_becomes_none() -> None:
    assert rules.normalize_description("   ") is None
    assert rules.normalize_description(None) is None


def test_description_over_10000_characters_is_rejected() -> None:
    assert rules.normalize_description("d" * 10_000) == "d" * 10_000
    with pytest.raises(ValidationError):
        rules.normalize_description("d" * 10_001)


# Tags


def test_tags_are_trimmed_lower_cased_and_deduplicated_in_first_seen_order() -> None:
    assert rules.normalize_tags([" Backend ", "URGENT", "backend", "urgent  ", "Ops"]) == ["backend", "urgent", "ops"]


def test_inner_whitespace_of_a_tag_collapses_to_one_space() -> None:
    assert rules.normalize_tags(["  Needs \t  Review "]) == ["needs review"]


def test_no_tags_give_an_empty_list() -> None:
    assert rules.normalize_tags(None) == []
    assert rules.normalize_tags([]) == []


def test_twenty_tags_are_accepted() -> None:
    assert len(rules.normalize_tags([f"tag{index}" for index in range(20)])) == 20


def test_twenty_one_tags_are_rejected() -> None:
    with pytest.raises(ValidationError) as error:
        rules.normalize_tags([f"tag{index}" for index in range(21)])
    assert "tags" in field_errors(error)


def test_duplicates_do_not_count_towards_the_tag_limit() -> None:
    names = [f"tag{index}" for index in range(20)] + [f"TAG{index}" for index in range(20)]
    assert len(rules.normalize_tags(names)) == 20


@pytest.mark.parametrize("name", ["a,b", ",", " trailing, ", "x" * 49 + ","])
def test_a_tag_with_a_comma_is_rejected_as_the_filter_could_never_name_it(name: str) -> None:
    with pytest.raises(ValidationError) as error:
        rules.normalize_tags(["fine", name])
    assert field_errors(error)["tags"] == ["Tag names cannot contain commas."]
    assert rules.tag_problem(rules.clean_tag(name)) == "Tag names cannot contain commas."


def test_tag_of_50_characters_is_accepted_and_51_is_rejected() -> None:
    assert rules.normalize_tags(["x" * 50]) == ["x" * 50]
    with pytest.raises(ValidationError) as error:
        rules.normalize_tags(["x" * 51])
    assert "tags" in field_errors(error)


def test_length_of_a_tag_is_measured_after_trimming() -> None:
    assert rules.normalize_tags(["   " + "x" * 50 + "   "]) == ["x" * 50]


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_tag_is_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        rules.normalize_tags(["ok", name])


# Due dates


def test_naive_due_date_is_rejected() -> None:
    with pytest.raises(ValidationError) as error:
        rules.validate_due_date(datetime(2025, 12, 31, 10, 0))
    assert "due_date" in field_errors(error)


@pytest.mark.parametrize(
    "due_date",
    [datetime(2025, 12, 31, 10, 0, tzinfo=UTC), datetime(2025, 12, 31, 10, 0, tzinfo=timezone(timedelta(hours=2)))],
)
def test_due_date_with_a_timezone_is_accepted(due_date: datetime) -> None:
    assert rules.validate_due_date(due_date) == due_date


def test_missing_due_date_is_accepted() -> None:
    assert rules.validate_due_date(None) is None


# Emails, passwords, names


def test_email_is_trimmed_and_lower_cased() -> None:
    assert rules.normalize_email("  Alice.Smith@Example.COM ") == "alice.smith@example.com"


@pytest.mark.parametrize("email", ["", "   ", "alice", "alice@example", "al ice@example.com", "a@b@example.com"])
def test_malformed_email_is_rejected(email: str) -> None:
    with pytest.raises(ValidationError) as error:
        rules.normalize_email(email)
    assert "email" in field_errors(error)


def test_email_over_254_characters_is_rejected() -> None:
    with pytest.raises(ValidationError):
        rules.normalize_email("a" * 245 + "@example.com")


def test_password_needs_8_to_128_characters() -> None:
    assert rules.validate_password("p" * 8) == "p" * 8
    assert rules.validate_password("p" * 128) == "p" * 128
    for password in ("p" * 7, "p" * 129):
        with pytest.raises(ValidationError):
            rules.validate_password(password)


def test_password_error_names_the_field_it_was_given() -> None:
    with pytest.raises(ValidationError) as error:
        rules.validate_password("short", field="new_password")
    assert list(field_errors(error)) == ["new_password"]


def test_blank_full_name_becomes_none_and_others_are_trimmed() -> None:
    assert rules.normalize_full_name("   ") is None
    assert rules.normalize_full_name(" Alice Smith ") == "Alice Smith"
    with pytest.raises(ValidationError):
        rules.normalize_full_name("n" * 201)


# Filenames


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\alice\\report.pdf", "report.pdf"),
        ("reports/2025/q1.xlsx", "q1.xlsx"),
        ("/absolute/path/notes.txt", "notes.txt"),
    ],
)
def test_sanitize_filename_keeps_only_the_last_path_part(raw: str, expected: str) -> None:
    assert rules.sanitize_filename(raw) == expected


def test_sanitize_filename_removes_control_characters() -> None:
    assert rules.sanitize_filename("re\x00po\r\nrt\x1b.txt") == "report.txt"


def test_sanitize_filename_removes_a_right_to_left_override() -> None:
    # U+202E would make "invoice\u202efdp.exe" display as "invoiceexe.pdf".
    assert rules.sanitize_filename("invoice\u202efdp.exe") == "invoicefdp.exe"


def test_sanitize_filename_strips_surrounding_dots_and_spaces() -> None:
    assert rules.sanitize_filename("  ..hidden.txt.. ") == "hidden.txt"


@pytest.mark.parametrize("raw", [None, "", "   ", "...", "a/", "dir/..", "\x00\x01"])
def test_sanitize_filename_falls_back_to_file_when_nothing_is_left(raw: str | None) -> None:
    assert rules.sanitize_filename(raw) == "file"


def test_sanitize_filename_shortens_a_long_name_and_keeps_its_extension() -> None:
    name = rules.sanitize_filename("n" * 300 + ".pdf")
    assert len(name) == 255
    assert name == "n" * 251 + ".pdf"


def test_sanitize_filename_cuts_a_long_name_without_extension_at_255() -> None:
    assert rules.sanitize_filename("n" * 300) == "n" * 255


def test_sanitize_filename_cuts_a_long_name_whose_extension_is_not_an_extension() -> None:
    raw = "name." + "e" * 300
    assert rules.sanitize_filename(raw) == raw[:255]


def test_sanitize_filename_leaves_a_reasonable_name_alone() -> None:
    assert rules.sanitize_filename("Résumé (final) v2.docx") == "Résumé (final) v2.docx"
