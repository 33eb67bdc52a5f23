"""Demo sources built from text every Python installation has, plus generated math problems.

``automixer demo-data DIR`` writes:
- ``DIR/stdlib_code/*.py``: source files of standard-library modules (code; a text-folder source).
- ``DIR/stdlib_docs.jsonl``: per module, the docstrings of the module, its classes and functions
  (technical prose of uneven quality: some are one-liners, some are long explanations).
- ``DIR/python_reference.jsonl``: sections of the interpreter's reference documentation
  (``pydoc_data.topics``, the text behind ``help('if')``); the high-quality reference source.
- ``DIR/math_problems.jsonl``: generated arithmetic and algebra word problems with worked answers.
- ``DIR/eval/{code,stem,math,math_choices}.jsonl``: held-out evaluation sets. Modules, topics and
  problem seeds are split by a hash, so no evaluation document is in the training sources.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import sysconfig
from pathlib import Path

from dataplane.store import atomic_write_text, ensure_dir

_SKIP_DIRS = {
    "test",
    "tests",
    "idlelib",
    "lib2to3",
    "tkinter",
    "turtledemo",
    "site-packages",
    "ensurepip",
    "pydoc_data",
}


def _held_out(name: str, share: float = 0.1) -> bool:
    """Deterministic train/eval split by name."""
    h = int(hashlib.sha1(name.encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < share


def _stdlib_files(max_files: int, max_bytes: int) -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith("_") and part != "__init__.py" for part in rel.parts):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if 200 <= len(text.encode()) <= max_bytes:
            out.append((str(rel.with_suffix("")).replace("/", "."), text))
    return out[:max_files]


def _docstrings(module: str, source: str) -> str:
    """Module, class and function docstrings of a module, as one document."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    parts = []
    doc = ast.get_docstring(tree)
    if doc:
        parts.append(f"{module}\n\n{doc}")
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc and not node.name.startswith("_"):
                parts.append(f"{node.name}\n{doc}")
    return "\n\n".join(parts)


def _reference_sections() -> list[tuple[str, str]]:
    """The interpreter's reference documentation, cut into sections of a few paragraphs."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some minimal Python builds drop pydoc_data
        return []
    out = []
    for name in sorted(topics):
        paragraphs = [p for p in topics[name].split("\n\n") if p.strip()]
        chunk: list[str] = []
        for p in paragraphs:
            chunk.append(p)
            if sum(len(c) for c in chunk) > 2500:
                out.append((f"{name}-{len(out)}", "\n\n".join(chunk)))
                chunk = []
        if chunk:
            out.append((f"{name}-{len(out)}", "\n\n".join(chunk)))
    return out


_NAMES = ["Ava", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena"]
_ITEMS = ["apples", "books", "marbles", "stamps", "pencils", "cookies", "coins", "stickers"]


def math_problem(rng: random.Random) -> tuple[str, str, int]:
    """One word problem with a worked answer: (question, worked solution, numeric answer)."""
    kind = rng.randrange(5)
    a, b, c = rng.randint(2, 60), rng.randint(2, 30), rng.randint(2, 12)
    name, other, item = rng.choice(_NAMES), rng.choice(_NAMES), rng.choice(_ITEMS)
    if kind == 0:
        q = (f"{name} has {a} {item}. {other} gives {name} {b} more, then {name} gives away {c}. "
             f"How many {item} does {name} have now?")
        ans = a + b - c
        w = (f"{name} starts with {a}. After receiving {b}: {a} + {b} = {a + b}. "
             f"After giving away {c}: {a + b} - {c} = {ans}.")
    elif kind == 1:
        q = (f"A box holds {c} {item}. {name} fills {b} boxes and has {a} {item} left over. "
             f"How many {item} are there in total?")
        ans = c * b + a
        w = f"The boxes hold {c} x {b} = {c * b} {item}. Adding the {a} left over: {c * b} + {a} = {ans}."
    elif kind == 2:
        x = rng.randint(1, 20)
        rhs = c * x + b
        q = f"Solve for x: {c}x + {b} = {rhs}."
        ans = x
        w = f"Subtract {b} from both sides: {c}x = {rhs - b}. Divide both sides by {c}: x = {rhs - b} / {c} = {x}."
    elif kind == 3:
        price, qty = rng.randint(2, 25), rng.randint(2, 9)
        paid = price * qty + rng.randint(1, 50)
        q = (f"{name} buys {qty} notebooks at {price} dollars each and pays with {paid} dollars. "
             f"How much change does {name} get?")
        ans = paid - price * qty
        w = (f"The notebooks cost {qty} x {price} = {price * qty} dollars. "
             f"The change is {paid} - {price * qty} = {ans} dollars.")
    else:
        speed, hours = rng.randint(20, 90), rng.randint(2, 8)
        q = f"A train travels at {speed} km per hour for {hours} hours. How far does it travel?"
        ans = speed * hours
        w = f"Distance is speed times time: {speed} x {hours} = {ans} km."
    return q, w, ans


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def build_demo_data(
    out_dir: str | Path, *, max_modules: int = 400, max_module_bytes: int = 40_000, num_math: int = 2000, seed: int = 0
) -> dict[str, int]:
    """Write the demo sources and eval sets under ``out_dir``; return rows written per file."""
    out = ensure_dir(out_dir, "demo-data folder")
    counts: dict[str, int] = {}
    modules = _stdlib_files(max_modules, max_module_bytes)
    train_mods = [(m, s) for m, s in modules if not _held_out(m)]
    eval_mods = [(m, s) for m, s in modules if _held_out(m)]
    for module, source in train_mods:
        atomic_write_text(out / "stdlib_code" / f"{module}.py", source)
    counts["stdlib_code"] = len(train_mods)

    docs = [{"id": m, "text": d} for m, s in train_mods if (d := _docstrings(m, s))]
    _write_jsonl(out / "stdlib_docs.jsonl", docs)
    counts["stdlib_docs"] = len(docs)

    sections = _reference_sections()
    ref_train = [{"id": n, "text": t} for n, t in sections if not _held_out(n)]
    _write_jsonl(out / "python_reference.jsonl", ref_train)
    counts["python_reference"] = len(ref_train)

    rng = random.Random(seed)
    problems = []
    for i in range(num_math):
        q, w, ans = math_problem(rng)
        problems.append({"id": f"math-{i}", "text": f"Question: {q}\nAnswer: {w}\nThe answer is {ans}."})
    _write_jsonl(out / "math_problems.jsonl", problems)
    counts["math_problems"] = len(problems)

    eval_rng = random.Random(seed + 10_007)
    eval_code = [{"id": m, "text": s[:4000]} for m, s in eval_mods]
    eval_stem = [{"id": n, "text": t} for n, t in sections if _held_out(n)]
    eval_stem += [{"id": m, "text": d} for m, s in eval_mods if (d := _docstrings(m, s))]
    eval_math, eval_choices = [], []
    train_questions = {p["text"].split("\n", 1)[0] for p in problems}
    while len(eval_math) < 200:
        q, w, ans = math_problem(eval_rng)
        if f"Question: {q}" in train_questions:  # templates repeat: keep evaluation problems unseen
            continue
        i = len(eval_math)
        eval_math.append({"id": f"eval-math-{i}", "text": f"Question: {q}\nAnswer: {w}\nThe answer is {ans}."})
        wrong = sorted({ans + d for d in (-eval_rng.randint(1, 9), eval_rng.randint(1, 9), eval_rng.randint(10, 30))})
        choices = [f" {v}." for v in wrong] + [f" {ans}."]
        eval_rng.shuffle(choices)
        eval_choices.append(
            {
                "id": f"eval-mc-{i}",
                "text": f"Question: {q}\nAnswer: {w}\nThe answer is",
                "choices": choices,
                "label": choices.index(f" {ans}."),
            }
        )
    for name, rows in [("code", eval_code), ("stem", eval_stem), ("math", eval_math), ("math_choices", eval_choices)]:
        _write_jsonl(out / "eval" / f"{name}.jsonl", rows)
        counts[f"eval/{name}"] = len(rows)
    return counts
