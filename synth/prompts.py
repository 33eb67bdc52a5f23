"""Prompt templates of the openai backend, one per strategy, and their hash (synth_prompt_hash).

A user template holds ``{text}``: the seed (seed-heavy) or the feature list (pipeline-heavy).
Config ``synth.openai.templates`` replaces any of them; ``synth.openai.system_prompt`` the system one.
"""

from __future__ import annotations

import hashlib
import json

SYSTEM = ("You rewrite source material into high-quality training text. Use only facts stated in the "
          "material. Write plain text, no preamble, no remarks about the task.")

TEMPLATES = {
    "qa": "Write 4 to 6 diverse question and answer pairs about the text below. Mix factual, conceptual "
          "and reasoning questions. Format each as 'Q: ...' then 'A: ...'.\n\nText:\n{text}",
    "list": "List the key points of the text below as a titled bulleted list, one self-contained point per "
            "line.\n\nText:\n{text}",
    "dialogue": "Rewrite the text below as a conversation between a curious student and a patient teacher. "
                "Prefix lines with 'Student:' and 'Teacher:'. Cover every important idea.\n\nText:\n{text}",
    "wiki": "Rephrase the text below as a clear, well-organised encyclopedia article in neutral prose. Drop "
            "navigation, ads and other boilerplate; keep every fact.\n\nText:\n{text}",
    "distill": "Rewrite the text below to be shorter and denser: keep every key fact, drop repetition and "
               "filler. Use at most a third of the length.\n\nText:\n{text}",
    "knowledge_list": "Turn the facts below, taken from several documents, into a numbered knowledge list "
                      "under a short title. Merge duplicates; keep each item self-contained.\n\nFacts:\n{text}",
    "exercises": "Write exercises with worked answers based on the material below, one per item where "
                 "possible. Format: 'Exercise N. ...' then 'Answer: ...'.\n\nMaterial:\n{text}",
    "summary": "Write one coherent summary of the documents described below: what they share, where they "
               "differ, and the key facts of each.\n\nDocuments:\n{text}",
}


def render_features(payload: str) -> str:
    """The feature list of a pipeline task as prompt text, one line per feature."""
    lines = []
    for f in json.loads(payload):
        key = f" {f['key']}:" if f["key"] else ""
        lines.append(f"- [{f['kind']}, doc {f['doc_id'][:8]}]{key} {f['text']}")
    return "\n".join(lines)


class PromptBook:
    """The system prompt and user templates in force, with overrides from the config."""

    def __init__(self, system: str | None = None, templates: dict[str, str] | None = None):
        self.system = system or SYSTEM
        self.templates = {**TEMPLATES, **(templates or {})}

    def messages(self, strategy: str, text: str) -> list[dict]:
        user = self.templates[strategy].replace("{text}", text)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def hash(self, strategy: str) -> str:
        """Short hash of the system prompt and the strategy's template."""
        blob = self.system + "\x00" + self.templates[strategy]
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:12]
