"""Tiny seed documents and helpers for the synth tests: prose with definitions, numbers, entities, code."""

import pyarrow as pa

from automixer.config import config_from_dict
from dataplane.schema import conform
from dataplane.store import StageStore, write_parquet

PROSE = [
    ("web", "stem", "A prime number is a natural number greater than 1 that has no divisors other than 1 and "
     "itself. The first primes are 2, 3, 5, 7 and 11. Euclid proved that there are infinitely many primes "
     "around 300 BC. His argument multiplies a finite list of primes and adds one to the product. The result "
     "is divisible by none of the listed primes. Prime numbers are central to number theory and to modern "
     "cryptography, where the difficulty of factoring large numbers protects messages."),
    ("web", "stem", "Photosynthesis is the process by which green plants turn light into chemical energy. "
     "It takes place in the chloroplasts of leaf cells. Chlorophyll absorbs mostly red and blue light and "
     "reflects green light, which is why leaves look green. The overall reaction uses 6 molecules of carbon "
     "dioxide and 6 molecules of water to make one molecule of glucose. Oxygen is released as a by-product. "
     "Nearly all life on Earth depends on this process, directly or indirectly."),
    ("wiki", "wiki", "The Danube is the second-longest river in Europe, after the Volga. It flows through "
     "much of Central and Southeastern Europe, from the Black Forest into the Black Sea. The river is about "
     "2850 kilometres long. It passes through ten countries, more than any other river in the world. Four "
     "capital cities lie on its banks, among them Vienna and Budapest. Since ancient times the Danube has "
     "been a major trade route. The Roman Empire used it as a frontier for centuries."),
    ("wiki", "wiki", "A glacier is a persistent body of dense ice that moves under its own weight. Glaciers "
     "form where snow accumulates faster than it melts over many years. They cover about 10 percent of the "
     "land surface of the Earth today. Glacial ice is the largest reservoir of fresh water on the planet. "
     "As glaciers move they erode rock and carry sediment, shaping valleys into a typical U shape. Many "
     "glaciers have retreated since the middle of the nineteenth century as the climate warmed."),
    ("web", "stem", "An algorithm is a finite sequence of well-defined instructions for solving a problem. "
     "Sorting algorithms put the items of a list in order. Merge sort splits the list in half, sorts each "
     "half and merges the results, taking about n log n steps. Bubble sort repeatedly swaps adjacent items "
     "and needs about n squared steps in the worst case. Choosing the right algorithm matters far more than "
     "small speedups of the code. Computer scientists compare algorithms by how their cost grows with input."),
    ("wiki", "wiki", "The Great Barrier Reef is the largest coral reef system in the world. It lies in the "
     "Coral Sea off the coast of Queensland in Australia. The reef is made of over 2900 individual reefs "
     "and 900 islands. It can be seen from outer space and is built by billions of tiny organisms called "
     "coral polyps. The reef supports a wide diversity of life, including many endangered species. Rising "
     "sea temperatures cause coral bleaching, which threatens large parts of the reef."),
    ("web", "stem", "Inflation is the rate at which the general level of prices for goods and services "
     "rises. Central banks try to keep inflation near 2 percent a year. When inflation is high, money "
     "buys less than it did before. Moderate inflation encourages spending and investment rather than "
     "hoarding cash. Very high inflation, called hyperinflation, can destroy savings and disrupt trade. "
     "Economists measure inflation with price indexes that track a basket of common purchases."),
    ("wiki", "wiki", "The Rosetta Stone is a granite slab inscribed with a decree issued in 196 BC. The "
     "decree appears in three scripts: Ancient Egyptian hieroglyphs, Demotic script and Ancient Greek. "
     "Because the three texts say nearly the same thing, the stone became the key to reading hieroglyphs. "
     "French soldiers found it in 1799 near the town of Rashid in the Nile Delta. Jean-Francois Champollion "
     "announced his decipherment in 1822. The stone has been shown in the British Museum since 1802."),
]

CODE = ("def moving_average(values, window):\n    \"\"\"Return the averages of each run of window "
        "consecutive values.\"\"\"\n    return [sum(values[i:i + window]) / window for i in range(len(values) "
        "- window + 1)]\n\n\ndef clamp(x, low, high):\n    \"\"\"Limit x to the closed interval from low to "
        "high.\"\"\"\n    return max(low, min(high, x))\n")


def seed_table(texts: list[tuple[str, str, str]]) -> pa.Table:
    rows = [{"source": s, "domain": d, "text": t, "bucket": i % 2, "quality_score": 0.5 + 0.01 * i,
             "n_tokens": len(t.split())} for i, (s, d, t) in enumerate(texts)]
    return conform(pa.Table.from_pylist(rows))


def write_stage(workdir, stage: str, table: pa.Table) -> None:
    store = StageStore(workdir, stage)
    path = write_parquet(store.shard_path("kept", "all"), table)
    store.mark_done("all", {"kept": [path]}, {"kept": table.num_rows})


def make_config(workdir, synth: dict, seed: int = 0):
    sources = [{"name": n, "paths": [f"{workdir}/{n}"], "domain": d} for n, d in
               [("web", "stem"), ("wiki", "wiki"), ("code", "code")]]
    return config_from_dict({"workdir": str(workdir), "seed": seed, "sources": sources,
                             "ray": {"num_cpus": 2}, "synth": synth})


FAST_OPENAI = {"concurrency": 4, "timeout_s": 0.3, "max_retries": 4, "backoff_base_s": 0.01,
               "backoff_max_s": 0.05, "model": "fake-model", "api_key_env": "AUTOMIXER_TEST_KEY"}
