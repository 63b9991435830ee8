"""Each format turns raw records into messages, and every malformed record is refused
with the field that is wrong."""

from __future__ import annotations

import pytest

from desktop_app.core.config import DATA_FORMATS
from desktop_app.core.errors import DataError
from desktop_app.data.formats import FORMAT_CHOICES, FORMAT_FIELDS, detect_format, to_record
from desktop_app.data.records import Message, RecordProblem, RecordProblemError, TrainingRecord


def problem_of(raw: object, fmt: str, **kwargs: object) -> RecordProblem:
    with pytest.raises(RecordProblemError) as caught:
        to_record(raw, fmt, "data.jsonl", 7, **kwargs)  # type: ignore[arg-type]
    return caught.value.problem


def test_format_names_match_the_config_choices() -> None:
    assert ("auto", *FORMAT_FIELDS) == FORMAT_CHOICES
    assert FORMAT_CHOICES == DATA_FORMATS


def test_alpaca_with_input_and_system() -> None:
    raw = {
        "instruction": "Summarize.",
        "input": "A long text.",
        "output": "Short.",
        "system": "Be brief.",
    }
    record = to_record(raw, "alpaca", "data.jsonl", 3)
    assert record == TrainingRecord(
        "data.jsonl",
        3,
        (
            Message("system", "Be brief."),
            Message("user", "Summarize.\n\nA long text."),
            Message("assistant", "Short."),
        ),
    )


@pytest.mark.parametrize("extra", [{}, {"input": ""}, {"input": None}, {"input": "  "}])
def test_alpaca_without_input_is_instruction_only(extra: dict[str, object]) -> None:
    record = to_record({"instruction": "Hi?", "output": "Hello.", **extra}, "alpaca", "d", 1)
    assert record.messages == (Message("user", "Hi?"), Message("assistant", "Hello."))


def test_prompt_completion() -> None:
    record = to_record({"prompt": "2+2?", "completion": "4", "id": 9}, "prompt_completion", "d", 1)
    assert record.messages == (Message("user", "2+2?"), Message("assistant", "4"))
    assert record.text is None


def test_text() -> None:
    record = to_record({"text": "Policy terms, section 1."}, "text", "d", 4)
    assert record.text == "Policy terms, section 1."
    assert record.messages == ()


def test_chat_with_system_and_two_exchanges() -> None:
    raw = {
        "messages": [
            {"role": "system", "content": "You help."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "Goodbye"},
        ]
    }
    record = to_record(raw, "chat", "d", 1)
    assert [m.role for m in record.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert record.messages[-1] == Message("assistant", "Goodbye")


def test_sharegpt_maps_speakers_to_roles() -> None:
    raw = {
        "conversations": [
            {"from": "system", "value": "Be kind."},
            {"from": "human", "value": "Q1"},
            {"from": "gpt", "value": "A1"},
            {"from": "user", "value": "Q2"},
            {"from": "model", "value": "A2"},
        ]
    }
    record = to_record(raw, "sharegpt", "d", 1)
    assert record.messages == (
        Message("system", "Be kind."),
        Message("user", "Q1"),
        Message("assistant", "A1"),
        Message("user", "Q2"),
        Message("assistant", "A2"),
    )


@pytest.mark.parametrize(
    ("raw", "fmt", "field", "reason"),
    [
        ({"instruction": "Q"}, "alpaca", "output", "is missing"),
        ({"instruction": "Q", "output": "  "}, "alpaca", "output", "is empty"),
        ({"instruction": "Q", "output": None}, "alpaca", "output", "is empty (null)"),
        ({"instruction": "Q", "output": 42}, "alpaca", "output", "must be text, got a number"),
        (
            {"instruction": ["Q"], "output": "A"},
            "alpaca",
            "instruction",
            "must be text, got a list",
        ),
        (
            {"instruction": "Q", "input": 3, "output": "A"},
            "alpaca",
            "input",
            "must be text, got a number",
        ),
        (
            {"prompt": "P", "completion": True},
            "prompt_completion",
            "completion",
            "must be text, got true or false",
        ),
        ({"text": {"a": 1}}, "text", "text", "must be text, got an object"),
        ({"title": "x"}, "text", "text", "is missing"),
    ],
)
def test_field_problems_name_the_field(
    raw: dict[str, object], fmt: str, field: str, reason: str
) -> None:
    problem = problem_of(raw, fmt)
    assert (problem.path, problem.line, problem.field, problem.reason) == (
        "data.jsonl",
        7,
        field,
        reason,
    )


def test_problem_describe_reads_as_one_line() -> None:
    problem = problem_of({"instruction": "Q", "output": ""}, "alpaca")
    assert problem.describe() == "data.jsonl, line 7, field 'output': is empty"


def test_record_that_is_not_an_object() -> None:
    problem = problem_of(["Q", "A"], "alpaca")
    assert problem.field is None
    assert problem.reason == "must be a JSON object with named fields, got a list"


def test_text_over_max_chars() -> None:
    problem = problem_of({"text": "x" * 101}, "text", max_chars=100)
    assert problem.field == "text"
    assert "101 characters long, over the limit of 100" in problem.reason
    assert to_record({"text": "x" * 100}, "text", "d", 1, max_chars=100).text == "x" * 100


def chat(*turns: tuple[object, object]) -> dict[str, object]:
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


@pytest.mark.parametrize(
    ("raw", "field", "reason_part"),
    [
        (
            chat(("user", "Hi"), ("human", "Hello")),
            "messages[1].role",
            "'human', which is not a known role",
        ),
        (chat(("user", "Hi"), ("assistant", "")), "messages[1].content", "is empty"),
        (
            chat(("user", "Hi"), ("assistant", ["a"])),
            "messages[1].content",
            "must be text, got a list",
        ),
        (chat(("user", "Hi")), "messages", "must end with an assistant turn"),
        (
            chat(("assistant", "Hi"), ("user", "Q")),
            "messages[0].role",
            "should be user here but is assistant",
        ),
        (
            chat(("user", "A"), ("user", "B"), ("assistant", "C")),
            "messages[1].role",
            "should be assistant here",
        ),
        (
            chat(("user", "Q"), ("system", "S"), ("assistant", "A")),
            "messages[1].role",
            "only allowed first",
        ),
        ({"messages": []}, "messages", "is empty"),
        ({"messages": "Hi"}, "messages", "must be a list of messages, got text"),
        ({"messages": ["Hi"]}, "messages[0]", "must be an object with 'role' and 'content'"),
        ({"messages": [{"content": "Hi"}]}, "messages[0].role", "is missing"),
        ({"text": "Hi"}, "messages", "is missing"),
    ],
)
def test_chat_problems(raw: dict[str, object], field: str, reason_part: str) -> None:
    problem = problem_of(raw, "chat")
    assert problem.field == field
    assert reason_part in problem.reason


def test_chat_allows_an_empty_system_message() -> None:
    record = to_record(chat(("system", ""), ("user", "Q"), ("assistant", "A")), "chat", "d", 1)
    assert record.messages[0] == Message("system", "")


def test_sharegpt_problems_use_its_own_words() -> None:
    unknown = problem_of({"conversations": [{"from": "bing", "value": "Q"}]}, "sharegpt")
    assert unknown.field == "conversations[0].from"
    assert "'bing', which is not a known role" in unknown.reason
    assert "human" in unknown.reason and "gpt" in unknown.reason
    unfinished = problem_of(
        {
            "conversations": [
                {"from": "human", "value": "Q"},
                {"from": "gpt", "value": "A"},
                {"from": "human", "value": "Q2"},
            ]
        },
        "sharegpt",
    )
    assert unfinished.field == "conversations"
    assert unfinished.reason.startswith("must end with a gpt turn")


def test_unknown_format_name_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown data format 'auto'"):
        to_record({"text": "x"}, "auto", "d", 1)


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ({"instruction": "Q", "input": "", "output": "A"}, "alpaca"),
        ({"prompt": "P", "completion": "C"}, "prompt_completion"),
        ({"messages": []}, "chat"),
        ({"conversations": [], "id": "x1"}, "sharegpt"),
        ({"text": "T", "source": "web"}, "text"),
    ],
)
def test_detect_each_format(sample: dict[str, object], expected: str) -> None:
    assert detect_format([sample] * 3) == (expected, 1.0)


def test_detect_reports_the_share_that_fits() -> None:
    samples: list[dict] = [{"prompt": "P", "completion": "C"}] * 3 + [{"prompt": "P"}]
    assert detect_format(samples) == ("prompt_completion", 0.75)


def test_detect_prefers_the_more_specific_format_on_a_tie() -> None:
    samples: list[dict] = [{"instruction": "Q", "output": "A", "text": "Q A"}] * 2
    assert detect_format(samples) == ("alpaca", 1.0)


def test_detect_looks_at_the_first_200_samples_only() -> None:
    samples: list[dict] = [{"text": "T"}] * 200 + [{"prompt": "P", "completion": "C"}] * 300
    assert detect_format(samples) == ("text", 1.0)


def test_detect_refuses_when_nothing_fits_half() -> None:
    samples: list[dict] = [{"question": "Q", "answer": "A"}] * 3 + [{"text": "T"}] * 2
    with pytest.raises(DataError) as caught:
        detect_format(samples, path="qa.jsonl")
    message = caught.value.user_message()
    assert message.startswith("qa.jsonl: ")
    assert "question, answer, text" in message
    assert "The closest is text, which fits 2 of the 5 records read" in message
    for expected in ("alpaca: instruction, output", "chat: messages", "sharegpt: conversations"):
        assert expected in message


def test_detect_with_no_samples() -> None:
    with pytest.raises(DataError, match="no records with named fields"):
        detect_format([])


def test_classification() -> None:
    record = to_record({"text": "Great film!", "label": " positive "}, "classification", "d", 2)
    assert record.messages == (Message("user", "Great film!"), Message("assistant", "positive"))
    assert (record.label, record.text) == ("positive", None)
    assert to_record({"text": "Meh", "label": 0}, "classification", "d", 3).label == "0"


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ({"text": "T"}, "label", "missing_field"),
        ({"text": "T", "label": ""}, "label", "empty_field"),
        ({"text": "T", "label": 0.5}, "label", "wrong_type"),
        ({"text": "T", "label": True}, "label", "wrong_type"),
        ({"text": "", "label": "a"}, "text", "empty_field"),
    ],
)
def test_classification_problems(raw: dict[str, object], field: str, code: str) -> None:
    problem = problem_of(raw, "classification")
    assert (problem.field, problem.code) == (field, code)


def test_preference_pairs() -> None:
    raw = {"prompt": "Say hi.", "chosen": "Hello!", "rejected": "No.", "system": "Be kind."}
    record = to_record(raw, "preference", "d", 1)
    assert record.messages == (
        Message("system", "Be kind."),
        Message("user", "Say hi."),
        Message("assistant", "Hello!"),
    )
    assert record.rejected == "No."
    assert record.char_count == len("Be kind.Say hi.Hello!No.")


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ({"prompt": "P", "chosen": "C"}, "rejected", "missing_field"),
        ({"prompt": "P", "chosen": "C", "rejected": 3}, "rejected", "wrong_type"),
        ({"prompt": "P", "chosen": "Same", "rejected": " Same "}, "rejected", "same_answers"),
    ],
)
def test_preference_problems(raw: dict[str, object], field: str, code: str) -> None:
    problem = problem_of(raw, "preference")
    assert (problem.field, problem.code, problem.severity) == (field, code, "error")


def test_a_record_over_the_limit_in_all_its_fields() -> None:
    raw = {"instruction": "q" * 60, "output": "a" * 60}
    problem = problem_of(raw, "alpaca", max_chars=100)
    assert (problem.field, problem.code) == (None, "too_long")
    assert problem.reason.startswith("is in all 120 characters long, over the limit of 100")


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ({"text": "T", "label": "spam"}, "classification"),
        ({"prompt": "P", "chosen": "C", "rejected": "R"}, "preference"),
    ],
)
def test_detect_the_newer_formats(sample: dict[str, object], expected: str) -> None:
    assert detect_format([sample] * 2) == (expected, 1.0)


def test_record_problem_error_is_a_data_error_with_a_location() -> None:
    problem = problem_of({"text": 1}, "text")
    error = RecordProblemError(problem)
    assert isinstance(error, DataError)
    assert (error.path, error.line, error.field) == ("data.jsonl", 7, "text")
    assert (
        str(error)
        == error.message
        == "data.jsonl, line 7, field 'text': must be text, got a number"
    )


def test_severity_is_error_or_warning() -> None:
    with pytest.raises(ValueError, match="severity"):
        RecordProblem("d", 1, None, "x", severity="fatal")
