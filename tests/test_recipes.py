"""Recipes (built in, TOML, YAML) and reading teacher answers."""

import pytest

from generators.parsing import ParseError, parse_answer, schema_for
from generators.recipes import RecipeError, builtin_recipe, load_recipe


def test_parse_strict_fenced_and_prose():
    assert parse_answer('{"output": " A summary. "}', "output") == "A summary."
    assert parse_answer('```json\n{"output": "fenced"}\n```', "output") == "fenced"
    assert parse_answer('Sure! Here it is: {"input": "a tweet"} Hope it helps.', "input") == \
        "a tweet"


@pytest.mark.parametrize("text,why", [
    ("I think the answer is: maybe?", "no JSON object"),
    ('{"summary": "x"}', "no string 'output' (keys: summary)"),
    ('{"output": "   "}', "'output' is empty"),
    ('{"output": 3}', "no string 'output'"),
    ('{"output": "x"', "no JSON object"),
])
def test_parse_refuses_with_the_reason(text, why):
    with pytest.raises(ParseError, match=why.replace("(", r"\(").replace(")", r"\)")):
        parse_answer(text, "output")


def test_parse_labels_are_canonical_and_closed():
    assert parse_answer('{"output": "POSITIVE"}', "output", labels=("positive", "negative")) == \
        "positive"
    with pytest.raises(ParseError, match="not one of the labels"):
        parse_answer('{"output": "great"}', "output", labels=("positive", "negative"))
    with pytest.raises(ParseError, match="cut off at max_tokens"):
        parse_answer('{"output": "trunc', "output", finish_reason="length")
    assert schema_for("output", ("a", "b"))["properties"]["output"]["enum"] == ["a", "b"]


def test_load_recipe_toml_and_yaml(tmp_path):
    toml = tmp_path / "house.toml"
    toml.write_text('system = "Be brief."\ntopics = ["refunds", "sizes"]\nshots = 2\n')
    r = load_recipe(toml, builtin_recipe("support-answer"))
    assert (r.name, r.system, r.topics, r.shots) == ("house", "Be brief.", ("refunds", "sizes"), 2)
    assert r.personas == builtin_recipe("support-answer").personas  # from the base
    yml = tmp_path / "mine.yaml"
    yml.write_text("name: mine\noutput_prompt: 'Do {instruction} on {input} as JSON'\n")
    assert load_recipe(yml).output_prompt.startswith("Do {instruction}")


@pytest.mark.parametrize("body,why", [
    ('output_prompt = "Summarise {input} for {audience}"', "unknown variable.*audience"),
    ('temperature = 0.1', "unknown key.*temperature"),
    ('topics = []', "topics must list at least one"),
    ('output_prompt = "no input variable here"', "must contain {input}"),
    ('system = "unclosed', "does not parse"),
])
def test_load_recipe_says_what_is_wrong(tmp_path, body, why):
    f = tmp_path / "bad.toml"
    f.write_text(body + "\n")
    with pytest.raises(RecipeError, match=why):
        load_recipe(f)


def test_every_builtin_task_has_a_recipe():
    from studio.tasks import BUILTIN_TASKS

    for task in BUILTIN_TASKS:
        assert builtin_recipe(task.name).name == task.name
    assert builtin_recipe("my-own-task").name == "my-own-task"
