"""What a run trains on: the mix, exclusions, personal data, the split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_runs import write_jsonl

from desktop_app.core.config import DataSpec, RunConfig
from desktop_app.core.errors import DataError
from desktop_app.core.events import ListReporter
from desktop_app.engine.train import run_training
from desktop_app.engine.training_data import prepare_training_data


def qa(n: int, topic: str = "claims", extra: str = "") -> list[dict]:
    return [
        {"instruction": f"Question {i} about {topic}?{extra}", "output": f"Answer {i} on {topic}."}
        for i in range(n)
    ]


def test_errors_block_unless_the_user_excludes_them(tmp_path: Path):
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(json.dumps(r) + "\n" for r in qa(5))
        + '{"instruction": "Broken"\n'
        + json.dumps({"instruction": "No answer", "output": ""})
        + "\n"
    )
    spec = DataSpec(train=str(data), validation_fraction=0.0)
    with pytest.raises(DataError) as caught:
        prepare_training_data(spec, seed=1)
    message = caught.value.user_message()
    assert "line 6" in message and "line 7" in message and "leave them out" in message

    spec.exclude_invalid = True
    prepared = prepare_training_data(spec, seed=1)
    assert len(prepared.train) == 5
    excluded = prepared.record["files"][0]["excluded"]
    assert [e["line"] for e in excluded] == [6, 7]
    assert prepared.record["excluded_records"] == 2


def test_excluded_rows_are_in_the_run_manifest(tiny_model_dir: Path, tmp_path: Path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in qa(8)) + "{broken\n")
    config = RunConfig()
    config.model.path = str(tiny_model_dir)
    config.data.train = str(data)
    config.data.exclude_invalid = True
    config.method.name = "lora"
    config.hyperparameters.max_steps = 2
    config.output.dir = str(tmp_path / "runs")
    result = run_training(config, ListReporter())
    assert result.status == "finished", result.message
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["data"]["exclude_invalid"] is True
    assert [e["line"] for e in manifest["data"]["files"][0]["excluded"]] == [9]


def test_personal_data_is_scanned_and_redacted_in_memory(tmp_path: Path):
    records = qa(4) + [
        {"instruction": "Who handles claim 7?", "output": "Write to j.doe@northwind-mail.co.uk."},
        {
            "instruction": "And claim 8?",
            "output": "Also j.doe@northwind-mail.co.uk, or call +44 20 7946 0958.",
        },
    ]
    data = write_jsonl(tmp_path / "train.jsonl", records)
    before = data.read_bytes()
    spec = DataSpec(train=str(data), validation_fraction=0.0, pii_redaction="off")
    plain = prepare_training_data(spec, seed=1)
    found = plain.record["personal_data"]
    assert found["values_found"] == {"EMAIL": 2, "PHONE": 1}
    assert [r["line"] for r in found["records"]] == [5, 6]
    assert "j.doe@northwind-mail.co.uk" in plain.train[4].messages[-1].content

    spec.pii_redaction = "tags"
    tagged = prepare_training_data(spec, seed=1)
    assert tagged.train[4].messages[-1].content == "Write to [EMAIL]."
    assert tagged.record["personal_data"]["redaction"] == "tags"

    spec.pii_redaction = "pseudonyms"
    pseudo = prepare_training_data(spec, seed=1, pseudonym_salt="run-secret")
    first = pseudo.train[4].messages[-1].content
    second = pseudo.train[5].messages[-1].content
    stand_in = first.removeprefix("Write to ").removesuffix(".")
    assert "northwind" not in first and stand_in in second
    again = prepare_training_data(spec, seed=1, pseudonym_salt="run-secret")
    assert again.train[4].messages[-1].content == first  # same salt, same stand-ins (resume)
    assert data.read_bytes() == before  # the original is never changed


def test_mix_weights_repeat_records(tmp_path: Path):
    main = write_jsonl(tmp_path / "main.jsonl", qa(4, "claims"))
    extra = write_jsonl(tmp_path / "extra.jsonl", qa(3, "billing"))
    spec = DataSpec(
        train=str(main), validation_fraction=0.0, mix=[{"path": str(extra), "weight": 2}]
    )
    prepared = prepare_training_data(spec, seed=3)
    sources = [Path(r.source).name for r in prepared.train]
    assert sources.count("main.jsonl") == 4 and sources.count("extra.jsonl") == 6
    assert prepared.record["split"]["train_examples_after_weights"] == 10
    assert [f["weight"] for f in prepared.record["files"]] == [1.0, 2.0]

    many = write_jsonl(tmp_path / "many.jsonl", qa(200, "billing"))
    spec.mix = [{"path": str(many), "weight": 0.5}]
    half = prepare_training_data(spec, seed=3)
    from_many = [r for r in half.train if Path(r.source).name == "many.jsonl"]
    assert 80 <= len(from_many) <= 120  # a seeded half of 200
    assert [r.line for r in half.train] == [r.line for r in prepare_training_data(spec, 3).train]


def test_validation_and_test_parts_are_disjoint_and_recorded(tmp_path: Path):
    data = write_jsonl(tmp_path / "train.jsonl", qa(40))
    spec = DataSpec(train=str(data), validation_fraction=0.1, test_fraction=0.2)
    prepared = prepare_training_data(spec, seed=5)
    lines = lambda part: {r.line for r in part}  # noqa: E731
    assert (len(prepared.train), len(prepared.validation), len(prepared.test)) == (28, 4, 8)
    assert not lines(prepared.train) & lines(prepared.test)
    assert not lines(prepared.validation) & lines(prepared.test)
    assert sorted(t["line"] for t in prepared.record["split"]["test"]) == sorted(
        lines(prepared.test)
    )


def test_a_validation_file_repeating_training_records_is_refused(tmp_path: Path):
    train = write_jsonl(tmp_path / "train.jsonl", qa(6))
    validation = write_jsonl(tmp_path / "validation.jsonl", qa(6)[:2] + qa(2, "billing"))
    spec = DataSpec(train=str(train), validation_file=str(validation))
    with pytest.raises(DataError, match="validation.jsonl"):
        prepare_training_data(spec, seed=1)


def test_preference_pairs_train_on_the_chosen_answer_with_a_note(tmp_path: Path):
    pairs = [
        {
            "prompt": f"Summarise claim {i}.",
            "chosen": f"Claim {i} was paid.",
            "rejected": f"No idea about {i}.",
        }
        for i in range(4)
    ]
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    prepared = prepare_training_data(DataSpec(train=str(data), validation_fraction=0.0), seed=1)
    assert prepared.train[0].messages[-1].content == "Claim 0 was paid."
    assert prepared.train[0].rejected == "No idea about 0."
    assert any("chosen answers only" in note for note in prepared.notes)


def test_redaction_that_makes_records_identical_uses_them_once(tmp_path: Path):
    records = qa(6) + [
        {"instruction": "Who is the contact?", "output": "Write to a.b@northwind-mail.co.uk."},
        {"instruction": "Who is the contact?", "output": "Write to c.d@northwind-mail.co.uk."},
    ]
    data = write_jsonl(tmp_path / "train.jsonl", records)
    spec = DataSpec(train=str(data), validation_fraction=0.0, pii_redaction="tags")
    prepared = prepare_training_data(spec, seed=1)
    texts = [r.messages[-1].content for r in prepared.train]
    assert texts.count("Write to [EMAIL].") == 1
    dropped = prepared.record["personal_data"]["identical_after_redaction"]
    assert [(d["line"], d["same_as"]["line"]) for d in dropped] == [(8, 7)]
    assert any("became identical" in note for note in prepared.notes)


def test_pseudonyms_agree_between_training_and_validation_files(tmp_path: Path):
    train = write_jsonl(
        tmp_path / "train.jsonl",
        qa(3) + [{"instruction": "Contact for claim 9?", "output": "Call +44 20 7946 0958."}],
    )
    validation = write_jsonl(
        tmp_path / "validation.jsonl",
        [{"instruction": "Phone for claim 10?", "output": "It is +44 20 7946 0958."}],
    )
    spec = DataSpec(train=str(train), validation_file=str(validation), pii_redaction="pseudonyms")
    prepared = prepare_training_data(spec, seed=1, pseudonym_salt="s")
    stand_in = prepared.train[-1].messages[-1].content.removeprefix("Call ").rstrip(".")
    assert "7946" not in stand_in
    assert prepared.validation[0].messages[-1].content == f"It is {stand_in}."
    found = prepared.record["personal_data"]["records"]
    assert {Path(item["file"]).name for item in found} == {"train.jsonl", "validation.jsonl"}


def test_a_validation_file_of_another_type_detects_its_own_format(tmp_path: Path):
    train = tmp_path / "train.csv"
    train.write_text("Q,A\n" + "".join(f"Question {i}?,Answer {i}.\n" for i in range(6)))
    validation = write_jsonl(tmp_path / "validation.jsonl", qa(2, "billing"))
    spec = DataSpec(
        train=str(train),
        format="alpaca",
        column_map={"instruction": "Q", "output": "A"},
        validation_file=str(validation),
    )
    prepared = prepare_training_data(spec, seed=1)
    assert len(prepared.train) == 6 and len(prepared.validation) == 2
