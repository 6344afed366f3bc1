"""The invented world behind the skills testbed: people, things, diseases, drugs, words, countries.

Everything is drawn from a seeded `random.Random`, so one seed gives one world. Invented names
(diseases, drugs, countries) are built from syllables, so no fact can be known before training:
what a model knows about them it learned from the testbed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

PEOPLE = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Hugo", "Iris", "Jack", "Kate", "Liam",
          "Mia", "Noah", "Olga", "Paul", "Rosa", "Sam", "Tina", "Victor", "Wendy", "Yuri", "Zoe", "Omar"]
THINGS = ["apples", "books", "coins", "pencils", "stamps", "shells", "marbles", "cards", "cookies", "stickers",
          "eggs", "ribbons", "buttons", "cups", "keys", "plums"]
PLACES = ["market", "school", "park", "library", "harbor", "bakery", "station", "garden", "museum", "farm"]
SYMPTOMS = ["fever", "cough", "rash", "headache", "nausea", "fatigue", "dizziness", "chills", "back pain",
            "sore throat", "blurred vision", "joint pain"]
ORGANS = ["liver", "lungs", "heart", "kidneys", "skin", "stomach", "brain", "eyes"]
LIST_WORDS = ["red", "blue", "green", "cat", "dog", "bird", "tree", "rock", "lamp", "boat", "star", "moon",
              "fish", "cake", "door", "rain", "milk", "sand", "ring", "bell", "coat", "leaf", "drum", "kite",
              "rose", "wolf", "fox", "hill", "nest", "salt"]
ANTONYMS = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("early", "late"),
            ("open", "closed"), ("full", "empty"), ("old", "young"), ("loud", "quiet"), ("wet", "dry"),
            ("high", "low"), ("strong", "weak")]
ANIMAL_SOUNDS = {"dog": "bark", "cat": "meow", "cow": "moo", "duck": "quack", "sheep": "baa", "lion": "roar",
                 "owl": "hoot", "pig": "oink", "horse": "neigh", "frog": "croak", "bee": "buzz", "snake": "hiss"}
FRUIT_COLORS = {"banana": "yellow", "cherry": "red", "lime": "green", "plum": "purple", "orange": "orange",
                "lemon": "yellow", "strawberry": "red", "kiwi": "green", "grape": "purple", "apricot": "orange"}
CATEGORIES = {
    "animal": ["horse", "tiger", "rabbit", "eagle", "otter", "camel", "goose", "whale", "snake", "mouse"],
    "fruit": ["mango", "pear", "cherry", "lemon", "grape", "melon", "peach", "banana", "apricot", "kiwi"],
    "tool": ["hammer", "saw", "wrench", "drill", "chisel", "shovel", "rake", "pliers", "ladder", "axe"],
    "instrument": ["violin", "flute", "piano", "guitar", "trumpet", "harp", "cello", "banjo", "oboe", "tuba"],
    "vehicle": ["truck", "bicycle", "tram", "canoe", "scooter", "wagon", "ferry", "taxi", "sled", "jeep"],
}
SENTIMENT = {
    "positive": ["wonderful", "delightful", "excellent", "charming", "superb", "pleasant", "lovely", "brilliant"],
    "negative": ["awful", "dreadful", "boring", "terrible", "dull", "annoying", "poor", "disappointing"],
}
REVIEWED = ["film", "book", "meal", "concert", "hotel", "game", "play", "album"]
TOPICS = {
    "sports": ["match", "goal", "league", "coach", "tournament", "striker"],
    "weather": ["storm", "rainfall", "forecast", "snow", "heatwave", "wind"],
    "food": ["recipe", "chef", "bakery", "dinner", "harvest", "kitchen"],
    "music": ["band", "album", "singer", "concert", "orchestra", "melody"],
}
# Common knowledge that only the pretraining corpus states (a base model's world knowledge): real
# diseases with a usual symptom, drug and organ, from the same symptom and organ vocabulary as the
# invented diseases of the Medicine skill. Facts about the invented diseases are never in the corpus.
COMMON_DISEASES = [
    ("influenza", "fever", "oseltamivir", "lungs"), ("pneumonia", "cough", "penicillin", "lungs"),
    ("migraine", "headache", "sumatriptan", "brain"), ("hepatitis", "fatigue", "interferon", "liver"),
    ("eczema", "rash", "hydrocortisone", "skin"), ("gastritis", "nausea", "omeprazole", "stomach"),
    ("gout", "joint pain", "colchicine", "kidneys"), ("conjunctivitis", "blurred vision", "chloramphenicol", "eyes"),
    ("angina", "fatigue", "nitroglycerin", "heart"), ("vertigo", "dizziness", "meclizine", "brain"),
    ("malaria", "chills", "quinine", "liver"), ("Lyme disease", "joint pain", "doxycycline", "heart"),
    ("Parkinson disease", "dizziness", "levodopa", "brain"), ("Crohn disease", "nausea", "budesonide", "stomach"),
    ("bronchitis", "cough", "amoxicillin", "lungs"), ("kidney stones", "back pain", "ibuprofen", "kidneys"),
]
SYLLABLES = ["ta", "ri", "mo", "ne", "lu", "ka", "vo", "si", "pe", "dra", "len", "tor", "mi", "zu", "qua",
             "bel", "fin", "gor", "hal", "jun", "kel", "mar", "nor", "pol", "ras", "sel", "tam", "vin", "yor"]


def invented_names(rng: random.Random, n: int, syllables: tuple[int, int], suffix: str = "") -> list[str]:
    """n distinct capitalised pseudo-words of 2-3 syllables."""
    names: set[str] = set()
    out = []
    while len(out) < n:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(*syllables))) + suffix
        if word not in names:
            names.add(word)
            out.append(word)
    return out


@dataclass
class Disease:
    name: str
    symptom: str
    treatment: str
    organ: str


@dataclass
class World:
    """All entities of one testbed world."""

    seed: int
    diseases: list[Disease] = field(default_factory=list)
    drugs: list[str] = field(default_factory=list)
    countries: dict[str, str] = field(default_factory=dict)  # country -> capital

    @property
    def antonyms(self) -> dict[str, str]:
        pairs = {}
        for a, b in ANTONYMS:
            pairs.setdefault(a, b)
            pairs.setdefault(b, a)
        return pairs

    @property
    def word_category(self) -> dict[str, str]:
        return {w: cat for cat, words in CATEGORIES.items() for w in words}


def make_world(seed: int, n_diseases: int = 24, n_drugs: int = 16, n_countries: int = 30) -> World:
    rng = random.Random(f"world-{seed}")
    names = invented_names(rng, n_diseases + n_drugs + 2 * n_countries, (2, 3))
    disease_names = names[:n_diseases]
    drugs = [n.lower() + "ol" for n in names[n_diseases:n_diseases + n_drugs]]
    country_names = names[n_diseases + n_drugs:n_diseases + n_drugs + n_countries]
    capitals = names[n_diseases + n_drugs + n_countries:]
    diseases = [
        Disease(name=f"{n} disease", symptom=rng.choice(SYMPTOMS), treatment=rng.choice(drugs),
                organ=rng.choice(ORGANS))
        for n in disease_names
    ]
    countries = {c + "ia": cap for c, cap in zip(country_names, capitals, strict=True)}
    return World(seed=seed, diseases=diseases, drugs=drugs, countries=countries)
