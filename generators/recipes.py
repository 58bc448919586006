"""Task recipes: the system prompt and the templates the teacher is asked with.

A recipe has two templates. `output_prompt` asks for the output of one input (it sees
`{instruction}`, `{input}`, `{examples}` and, for classification, `{labels}`). `input_prompt` asks
for a new input like the seeds (it sees `{instruction}`, `{input_meaning}`, `{examples}` and the
steering variables `{topic}`, `{persona}`, `{length}`, `{style}`, drawn per sample from the
recipe's lists for variety). Built-in recipes cover the shipped tasks; `load_recipe(path)` reads a
user's TOML or YAML file with the same keys.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

OUTPUT_VARS = {"instruction", "input", "examples", "labels", "input_meaning", "output_meaning"}
INPUT_VARS = {"instruction", "input_meaning", "output_meaning", "examples", "topic", "persona",
              "length", "style", "labels"}

SYSTEM = ("You write training data for a small language model. Follow the instructions exactly "
          "and answer with one JSON object and nothing else.")

OUTPUT_PROMPT = """Task: {instruction}

{examples}Input ({input_meaning}):
{input}

Answer with a JSON object {{"output": "..."}} holding {output_meaning}."""

INPUT_PROMPT = """We are collecting inputs for this task: {instruction}
An input is {input_meaning}. Here are real ones:

{examples}Write one new, different input about {topic}, as written by {persona}. Make it {length} \
and {style}. Do not copy the examples.

Answer with a JSON object {{"input": "..."}}."""

TOPICS = ("everyday life", "work", "travel", "food", "technology", "sport", "money", "health",
          "weather", "music", "a product they bought", "local news", "a delay or a queue",
          "a small win", "a complaint")
PERSONAS = ("a student", "a busy parent", "a retiree", "a shop owner", "a gamer",
            "a commuter", "a nurse on night shift", "a teenager", "a software developer",
            "a tourist")
LENGTHS = ("very short", "short", "medium length", "a bit long")
STYLES = ("casual", "excited", "annoyed", "matter-of-fact", "sarcastic", "hurried",
          "polite", "rambling")


class RecipeError(ValueError):
    pass


@dataclass(frozen=True)
class Recipe:
    name: str = field(metadata={"help": "how jobs and rows refer to the recipe"})
    system: str = field(default=SYSTEM, metadata={"help": "the system message"})
    output_prompt: str = field(default=OUTPUT_PROMPT, metadata={"help": "asks for one output"})
    input_prompt: str = field(default=INPUT_PROMPT, metadata={"help": "asks for one new input"})
    topics: tuple[str, ...] = TOPICS
    personas: tuple[str, ...] = PERSONAS
    lengths: tuple[str, ...] = LENGTHS
    styles: tuple[str, ...] = STYLES
    shots: int = field(default=3, metadata={"help": "seed examples shown in each prompt"})
    input_temperature: float = field(default=1.0, metadata={"help": "for new inputs: variety"})
    output_temperature: float = field(default=0.3, metadata={"help": "for outputs: fidelity"})
    input_max_tokens: int = field(default=400, metadata={
        "help": "answer length cap when asking for a new input"})
    output_max_tokens: int = field(default=400, metadata={
        "help": "answer length cap when asking for an output (a label needs few)"})

    def __post_init__(self):
        for name, allowed in (("output_prompt", OUTPUT_VARS), ("input_prompt", INPUT_VARS)):
            unknown = _variables(getattr(self, name)) - allowed
            if unknown:
                raise RecipeError(f"recipe {self.name!r}: {name} uses unknown variable(s) "
                                  f"{', '.join(sorted(unknown))}; "
                                  f"allowed: {', '.join(sorted(allowed))}")
        if "{input}" not in self.output_prompt:
            raise RecipeError(f"recipe {self.name!r}: output_prompt must contain {{input}}")
        for name in ("topics", "personas", "lengths", "styles"):
            if not getattr(self, name):
                raise RecipeError(f"recipe {self.name!r}: {name} must list at least one value")
        if not 0 <= self.shots <= 20:
            raise RecipeError(f"recipe {self.name!r}: shots must be 0-20")
        for name in ("input_max_tokens", "output_max_tokens"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise RecipeError(f"recipe {self.name!r}: {name} must be a whole number >= 1")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _variables(template: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f}
    except ValueError as e:
        raise RecipeError(f"bad template: {e} (write literal braces as {{{{ and }}}})") from None


BUILTIN_RECIPES = {
    "tweet-summary": Recipe(
        name="tweet-summary",
        personas=PERSONAS + ("a football fan", "a local business", "a news junkie"),
        styles=STYLES + ("full of slang and abbreviations", "with hashtags and emoji"),
    ),
    "support-answer": Recipe(
        name="support-answer",
        topics=("an order that is late", "a refund", "sizes and fit", "a damaged item",
                "changing an address", "opening hours", "a discount code", "gift wrapping",
                "returns abroad", "a missing part", "payment options", "a warranty"),
        personas=("a first-time customer", "a loyal customer", "an upset customer",
                  "a customer in a hurry", "a confused customer", "a business buyer"),
    ),
    "sentiment": Recipe(
        name="sentiment",
        # A label is a few tokens of JSON; a new review needs room.
        output_temperature=0.0, input_max_tokens=300, output_max_tokens=32,
        topics=("a restaurant", "a phone", "a film", "a hotel", "a delivery", "an app",
                "a concert", "a pair of shoes", "customer service", "a train journey"),
        styles=("clearly positive", "clearly negative", "neutral and factual", "mixed",
                "sarcastic", "understated"),
    ),
    "product-description": Recipe(
        name="product-description",
        topics=("kitchen", "garden", "outdoor gear", "stationery", "home office", "toys",
                "bags", "lighting", "bathroom", "pet supplies"),
        personas=("a shop's product sheet",), styles=("terse, facts separated by commas",),
    ),
}
DEFAULT_RECIPE = Recipe(name="default")


def builtin_recipe(task_name: str) -> Recipe:
    return BUILTIN_RECIPES.get(task_name, replace(DEFAULT_RECIPE, name=task_name))


def load_recipe(path: str | Path, base: Recipe | None = None) -> Recipe:
    """A recipe from a TOML or YAML file. Keys missing from the file come from `base`."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            raise RecipeError(f"recipe file {path}: use .toml, .yaml or .yml")
    except RecipeError:
        raise
    except Exception as e:  # the parser's own message says where
        raise RecipeError(f"recipe file {path} does not parse: {e}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"recipe file {path}: expected a table of keys at the top")
    data = _legacy(data)
    known = {f.name for f in fields(Recipe)}
    unknown = set(data) - known
    if unknown:
        raise RecipeError(f"recipe file {path}: unknown key(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(known))}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    values.setdefault("name", path.stem)
    try:
        return replace(base or DEFAULT_RECIPE, **values)
    except TypeError as e:
        raise RecipeError(f"recipe file {path}: {e}") from None


def _legacy(data: dict) -> dict:
    """`max_tokens` (one cap for both request kinds, before they had their own) sets both."""
    data = dict(data)
    if "max_tokens" in data:
        cap = data.pop("max_tokens")
        data.setdefault("input_max_tokens", cap)
        data.setdefault("output_max_tokens", cap)
    return data


def recipe_from_dict(data: dict) -> Recipe:
    """A recipe as stored with a job (Recipe.to_dict), older jobs' keys included."""
    data = _legacy(data)
    return Recipe(**{f.name: (tuple(v) if isinstance(v, list) else v)
                     for f in fields(Recipe) if (v := data.get(f.name)) is not None})


def render(template: str, **values) -> str:
    return template.format_map(values)


def format_examples(pairs: list[tuple[str, str | None]], *, with_output: bool) -> str:
    """Seed examples as prompt text; empty when there are none."""
    if not pairs:
        return ""
    blocks = []
    for i, (inp, out) in enumerate(pairs, 1):
        block = f"Example {i} input:\n{inp}"
        if with_output and out is not None:
            block += f"\nExample {i} output:\n{out}"
        blocks.append(block)
    return "\n\n".join(blocks) + "\n\n"
