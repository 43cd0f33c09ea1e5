"""The (premise, hypothesis) pairs a reduced precision is checked on, shipped as ``rerank/data/check_pairs.tsv``.

A precision such as bf16 is kept only when it agrees with fp32 on these pairs (rerank.export.precision). They are
generated here from templates, deterministically, so the shipped file can be re-made and reviewed:

- four lengths: one short sentence (about 10-25 tokens), two or three sentences, a paragraph, and a long
  abstract-like paragraph of 10-17 sentences (about 150-300 tokens), since rounding error grows with the sequence;
- three relations per fact: the hypothesis restates it (entailment), changes a number, a place or negates it
  (contradiction), or adds something unstated (neutral), so every label is exercised;
- everyday, scientific and geographic facts, in English, German, French and Spanish, with some cross-lingual pairs.

Regenerate the file with ``python -m rerank.export.check_pairs`` (a test checks that the file matches).

Example:
    >>> pairs = generate_check_pairs()
    >>> len(pairs), pairs[0][0][:20]  # doctest: +SKIP
    (300, 'Maria Lopez bought t')
"""

from __future__ import annotations

import random
from collections.abc import Callable
from importlib import resources
from pathlib import Path

__all__ = ["CHECK_PAIRS_FILE", "check_pairs", "generate_check_pairs", "write_check_pairs"]

CHECK_PAIRS_FILE = "check_pairs.tsv"
SEED = 20261129
COUNTS = {"short": 130, "medium": 90, "paragraph": 50, "long": 30}  # 300 pairs

NAMES = ["Maria Lopez", "Tom Becker", "Aiko Tanaka", "Jonas Weber", "Fatima Said", "Luca Rossi", "Chloé Martin",
         "Olga Ivanova", "Kwame Mensah", "Priya Nair", "Sven Larsson", "Ana Souza"]  # fmt: skip
ITEMS = [("apples", "Äpfel", "pommes", "manzanas"), ("books", "Bücher", "livres", "libros"),
         ("chairs", "Stühle", "chaises", "sillas"), ("tickets", "Karten", "billets", "entradas"),
         ("bottles of water", "Flaschen Wasser", "bouteilles d'eau", "botellas de agua")]  # fmt: skip
PLACES = [("at the market", "auf dem Markt", "au marché", "en el mercado"),
          ("at the station", "am Bahnhof", "à la gare", "en la estación"),
          ("at the library", "in der Bibliothek", "à la bibliothèque", "en la biblioteca"),
          ("at the harbour", "im Hafen", "au port", "en el puerto")]  # fmt: skip
DAYS = [("Monday", "Montag", "lundi", "lunes"), ("Friday", "Freitag", "vendredi", "viernes"),
        ("Sunday", "Sonntag", "dimanche", "domingo")]  # fmt: skip
DRUGS = ["Aspirin", "Metformin", "Atorvastatin", "Vitamin D", "Ibuprofen", "Lisinopril", "Omeprazole", "Melatonin"]
OUTCOMES = ["the rate of heart attacks", "blood pressure", "fasting glucose", "LDL cholesterol", "sleep latency",
            "the risk of stroke", "bone fractures", "hospital admissions"]  # fmt: skip
CONDITIONS = ["type 2 diabetes", "hypertension", "chronic kidney disease", "insomnia", "osteoporosis", "asthma"]
CITIES = [("Lyon", "France", 0.5), ("Porto", "Portugal", 0.2), ("Leipzig", "Germany", 0.6), ("Kraków", "Poland", 0.8),
          ("Valencia", "Spain", 0.8), ("Osaka", "Japan", 2.7), ("Nairobi", "Kenya", 4.4), ("Quito", "Ecuador", 2.8),
          ("Perth", "Australia", 2.1), ("Tampere", "Finland", 0.2)]  # fmt: skip
ANIMALS = [("dog", "runs across the field", "is asleep in its basket", "is chasing a ball"),
           ("cat", "sleeps on the windowsill", "is hunting in the garden", "is black"),
           ("horse", "gallops along the beach", "stands still in the stable", "belongs to a farmer"),
           ("child", "plays the violin on stage", "is sitting silently in the audience", "is ten years old"),
           ("woman", "rides a bicycle through the park", "is driving a truck on the motorway", "is late for work"),
           ("man", "repairs a roof in the rain", "is lying on a sunny beach", "is a carpenter")]  # fmt: skip
FILLERS = [
    "The study was funded by a public research council and registered before recruitment began.",
    "Participants were recruited from outpatient clinics in three regions.",
    "Adherence was measured with pill counts at every visit.",
    "The analysis followed the intention-to-treat principle.",
    "Secondary outcomes included quality of life and the number of adverse events.",
    "Follow-up visits took place every three months.",
    "The authors report no conflicts of interest.",
    "Missing data were handled by multiple imputation.",
    "The weather on the day was mild, with light wind from the west.",
    "Several neighbours watched from their balconies.",
    "Local newspapers reported on the event the following morning.",
    "The city council had approved the plan two years earlier.",
    "Blood samples were analysed in a central laboratory that was blinded to the treatment group.",
    "Baseline characteristics were balanced between the groups, apart from a slightly higher mean age in one arm.",
    "A data monitoring committee reviewed the safety results twice a year and recommended continuing the trial.",
    "The museum near the old bridge reopened last spring after a long renovation.",
    "Trains to the coast run every hour, and the journey takes a little under two hours.",
    "Sensitivity analyses that excluded participants with poor adherence gave similar estimates.",
    "Most of the older buildings in the centre were rebuilt in the nineteenth century.",
    "The protocol, the statistical analysis plan and the consent forms are available from the authors on request.",
]


def _short(rng: random.Random) -> tuple[str, str]:
    """One everyday or descriptive sentence, in one of four languages, against a short hypothesis."""
    name, (item, place, day) = rng.choice(NAMES), (rng.choice(ITEMS), rng.choice(PLACES), rng.choice(DAYS))
    n, relation, language = rng.randint(2, 19), rng.randrange(3), rng.randrange(6)
    if language == 0:
        premise = f"{name} kaufte am {day[1]} {n} {item[1]} {place[1]}."
        hypothesis = [f"{name} hat {item[1]} gekauft.", f"{name} kaufte {n + 5} {item[1]}.",
                      f"{name} bezahlte mit Karte."][relation]  # fmt: skip
    elif language == 1:
        premise = f"{name} a acheté {n} {item[2]} {place[2]} {day[2]}."
        hypothesis = [f"{name} a acheté des {item[2]}.", f"{name} n'a rien acheté.",
                      f"{name} a payé en espèces."][relation]  # fmt: skip
    elif language == 2:
        premise = f"{name} compró {n} {item[3]} {place[3]} el {day[3]}."
        hypothesis = [f"{name} compró {item[3]}.", f"{name} compró {n + 3} {item[3]}.",
                      f"{name} fue con una amiga."][relation]  # fmt: skip
    elif language == 3:  # cross-lingual: German premise, English hypothesis
        premise = f"{name} kaufte am {day[1]} {n} {item[1]} {place[1]}."
        hypothesis = [f"{name} bought {item[0]}.", f"{name} bought nothing on {day[0]}.",
                      f"{name} bought them for a party."][relation]  # fmt: skip
    else:
        animal, action, opposite, extra = rng.choice(ANIMALS)
        premise = f"A {animal} {action} on a {rng.choice(['cold', 'bright', 'quiet', 'busy'])} {day[0]} morning."
        hypothesis = [f"A {animal} {action}.", f"The {animal} {opposite}.", f"The {animal} {extra}."][relation]
    return premise, hypothesis


def _trial(rng: random.Random) -> tuple[str, list[str], str]:
    """A trial result in two or three sentences, and three hypotheses (entailed, contradicted, unstated)."""
    drug, outcome, condition = rng.choice(DRUGS), rng.choice(OUTCOMES), rng.choice(CONDITIONS)
    pct, n, years = rng.randint(8, 45), rng.randint(120, 9000), rng.randint(1, 6)
    text = (f"In a randomised trial of {n} adults with {condition}, {drug} reduced {outcome} by {pct}% compared "
            f"with placebo over {years} years. The effect was similar in men and women.")  # fmt: skip
    claims = [f"{drug} lowers {outcome} in people with {condition}.", f"{drug} increases {outcome}.",
              f"{drug} is cheaper than the standard treatment."]  # fmt: skip
    return text, claims, "en"


def _city(rng: random.Random) -> tuple[str, list[str], str]:
    """A short description of a city, and three hypotheses; sometimes in German or Spanish."""
    city, country, population = rng.choice(CITIES)
    others = [c for c, k, _ in CITIES if k != country]
    if rng.random() < 0.3:
        text = (f"{city} liegt in {country} und hat etwa {population:.1f} Millionen Einwohner. Die Stadt ist für "
                "ihre Märkte und ihre Universität bekannt.")  # fmt: skip
        claims = [f"{city} liegt in {country}.", f"{city} liegt in einem anderen Land als {country}.",
                  f"{city} hat einen großen Flughafen."]  # fmt: skip
        return text, claims, "de"
    text = (f"{city} is a city in {country} with about {population:.1f} million inhabitants. It is known for its "
            f"markets, and {rng.choice(others)} is one of its partner cities.")  # fmt: skip
    claims = [f"{city} is in {country}.", f"{city} has more than {population * 3 + 1:.0f} million inhabitants.",
              f"{city} hosted the Olympic Games."]  # fmt: skip
    return text, claims, "en"


def _medium(rng: random.Random) -> tuple[str, str]:
    text, claims, _ = (_trial if rng.random() < 0.5 else _city)(rng)
    return text, rng.choice(claims)


def _paragraph(rng: random.Random, sentences: int) -> tuple[str, str]:
    """A fact hidden among ``sentences`` filler sentences (first, middle or last), with a hypothesis about it."""
    text, claims, _ = (_trial if rng.random() < 0.6 else _city)(rng)
    fillers = rng.sample(FILLERS, k=min(sentences, len(FILLERS)))
    position = rng.choice([0, len(fillers) // 2, len(fillers)])
    return " ".join([*fillers[:position], text, *fillers[position:]]), rng.choice(claims)


def generate_check_pairs(seed: int = SEED) -> list[tuple[str, str]]:
    """The shipped check pairs: COUNTS pairs of each length, in a fixed shuffled order (deterministic in ``seed``)."""
    rng = random.Random(seed)
    makers: dict[str, Callable[[], tuple[str, str]]] = {
        "short": lambda: _short(rng),
        "medium": lambda: _medium(rng),
        "paragraph": lambda: _paragraph(rng, rng.randint(2, 4)),
        "long": lambda: _paragraph(rng, rng.randint(9, 16)),
    }
    pairs: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for kind, count in COUNTS.items():
        made = 0
        while made < count:
            pair = makers[kind]()
            if pair not in seen:
                seen.add(pair)
                pairs.append(pair)
                made += 1
    rng.shuffle(pairs)
    return pairs


def write_check_pairs(path: str | Path) -> Path:
    """Write generate_check_pairs() as a premise<TAB>hypothesis TSV with a header row."""
    path = Path(path)
    rows = "".join(f"{premise}\t{hypothesis}\n" for premise, hypothesis in generate_check_pairs())
    path.write_text("premise\thypothesis\n" + rows, encoding="utf-8")
    return path


def check_pairs(limit: int | None = None) -> list[tuple[str, str]]:
    """The shipped check pairs (rerank/data/check_pairs.tsv), read with the project's pair reader."""
    from rerank.export.calibration import read_pairs_tsv

    with resources.as_file(resources.files("rerank") / "data" / CHECK_PAIRS_FILE) as path:
        return read_pairs_tsv(path, limit=limit)


if __name__ == "__main__":
    print(write_check_pairs(Path(__file__).resolve().parents[1] / "data" / CHECK_PAIRS_FILE))
