"""Tasks name the job a model is tuned for: its instruction, what input and output mean, labels.

A classification task has a label set and refuses outputs outside it. The built-in tasks are
written into every new store; users can add their own (`sft-studio add-task`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from studio.errors import BadInput

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Task:
    name: str
    instruction: str
    input_meaning: str = "the input text"
    output_meaning: str = "the output text"
    labels: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not NAME_RE.match(self.name):
            raise BadInput(
                f"task name {self.name!r} must be 1-64 lowercase letters, digits, '-' or '_'"
            )
        if not self.instruction.strip():
            raise BadInput(f"task {self.name!r} needs an instruction")
        if len(set(self.labels)) != len(self.labels):
            raise BadInput(f"task {self.name!r} lists a label twice: {', '.join(self.labels)}")

    @property
    def kind(self) -> str:
        return "classification" if self.labels else "generation"

    def check_output(self, output: str | None) -> str | None:
        """The output as stored (a label in its canonical spelling), or BadInput if refused."""
        if output is None or not self.labels:
            return output
        for label in self.labels:
            if output.strip().lower() == label.lower():
                return label
        raise BadInput(
            f"output {output!r} is not a label of task {self.name!r} ({', '.join(self.labels)})"
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["kind"] = self.kind
        return d


BUILTIN_TASKS = (
    Task(
        name="tweet-summary",
        instruction="Read the tweet, however messy, and write one short, clean sentence that "
        "says what it is about. Keep names, numbers, @mentions and #hashtags that matter.",
        input_meaning="a tweet as people write it: typos, slang, casing, emoji, hashtags",
        output_meaning="a short clean one-sentence summary",
    ),
    Task(
        name="support-answer",
        instruction="Answer the customer's question in the house voice: warm, concise, concrete, "
        "two or three sentences, no promises the shop cannot keep.",
        input_meaning="a customer's question",
        output_meaning="the answer in the house voice",
    ),
    Task(
        name="sentiment",
        instruction="Label the sentiment of the text as positive, negative or neutral. "
        "Answer with the label alone.",
        input_meaning="a short review or post",
        output_meaning="one label",
        labels=("positive", "negative", "neutral"),
    ),
    Task(
        name="product-description",
        instruction="Turn the product facts into a two or three sentence description for a shop "
        "page. Use only the facts given.",
        input_meaning="terse product facts",
        output_meaning="a short product description",
    ),
)
