#!/usr/bin/env python3
"""Write conf/sample/movies.json: fictional movies for the demo and tests.

    python3 conf/sample/generate.py > conf/sample/movies.json

Deterministic (a fixed seed, no clock, no environment): running it again
gives the same bytes, so the committed file can be checked against it.
Every document has id (1..N), title, overview, genres (1 to 3), year
(1950..2025), rating (1.0..9.9, one decimal) and director.  The titles and
plots are made from word lists; any likeness to a real film is chance.
"""
import json
import random
import sys

COUNT = 400
SEED = 20240607

ADJECTIVES = [
    "Silent", "Crimson", "Hidden", "Last", "Broken", "Golden", "Frozen",
    "Midnight", "Lost", "Electric", "Hollow", "Burning", "Distant", "Velvet",
    "Iron", "Paper", "Wild", "Quiet", "Restless", "Bitter", "Shining",
    "Forgotten", "Endless", "Savage", "Lonely", "Secret", "Falling",
    "Northern", "Glass", "Scarlet",
]
NOUNS = [
    "Harbor", "Orchard", "Signal", "Empire", "Garden", "River", "Kingdom",
    "Lighthouse", "Station", "Frontier", "Mirror", "Tide", "Horizon",
    "Carnival", "Circuit", "Canyon", "Archive", "Compass", "Lantern",
    "Meridian", "Monsoon", "Summit", "Voyage", "Citadel", "Labyrinth",
    "Nebula", "Outpost", "Prairie", "Requiem", "Saltmarsh",
]
PATTERNS = [
    "The {adj} {noun}", "{adj} {noun}", "A {noun} in {place}",
    "Return to {place}", "The {noun} of {place}", "{name}'s {noun}",
    "Beyond the {noun}", "{adj} Hearts", "Night Over {place}",
    "The {noun} Protocol",
]
PLACES = [
    "Valmora", "Kestrel Bay", "Old Dunmore", "Asterfield", "Port Ilsen",
    "the Red Hills", "Caldera City", "Norrholm", "Silverbrook", "Quenton",
    "the Outer Rim", "Marrowgate", "Brightwater", "Eastmere", "Tessaly",
]
FIRST = [
    "Ada", "Bruno", "Clara", "Dmitri", "Elena", "Farid", "Greta", "Hugo",
    "Ines", "Jonah", "Kira", "Luca", "Maren", "Nadia", "Oskar", "Priya",
    "Quinn", "Rosa", "Soren", "Talia", "Umar", "Vera", "Wendell", "Yara",
]
LAST = [
    "Abernathy", "Blackwood", "Castellan", "Delacroix", "Ellery", "Fairbanks",
    "Grimaldi", "Halloran", "Ivers", "Jansen", "Kowalski", "Lindqvist",
    "Moreau", "Nakamura", "Okafor", "Pellegrino", "Quist", "Rasmussen",
    "Sandoval", "Thorne", "Ueda", "Valdez", "Whitlock", "Zeller",
]
GENRES = [
    "Drama", "Comedy", "Thriller", "Science Fiction", "Romance", "Horror",
    "Adventure", "Animation", "Documentary", "Fantasy", "Mystery", "Western",
    "Crime", "Family", "War", "Musical",
]
ROLES = [
    "a retired detective", "a young cartographer", "an exiled princess",
    "a night-shift nurse", "a disgraced astronaut", "a small-town baker",
    "a jazz pianist", "a reluctant smuggler", "a lighthouse keeper",
    "a teenage inventor", "a war correspondent", "a travelling magician",
    "an amnesiac pilot", "a marine biologist", "a forger", "twin sisters",
]
EVENTS = [
    "discovers a map that should not exist",
    "is drawn into a conspiracy reaching the highest office",
    "must cross a frozen sea before the spring thaw",
    "inherits a crumbling hotel full of secrets",
    "receives letters from a stranger who knows the future",
    "wakes up in a city where nobody remembers them",
    "joins a ragged crew searching for a lost ship",
    "tries to win back a family farm from a ruthless bank",
    "investigates a string of impossible disappearances",
    "falls for a rival during a week-long festival",
    "leads a rebellion against a machine that runs the colony",
    "hunts a creature that only appears at low tide",
    "has one night to deliver a message across a city at war",
    "returns home to settle an old score",
]
ENDINGS = [
    "Nothing will be the same again.",
    "The truth turns out to be stranger than the legend.",
    "Friendship is tested at every turn.",
    "Time is running out.",
    "Every choice has a price.",
    "Some doors are better left closed.",
    "The past refuses to stay buried.",
    "Hope comes from the least expected place.",
]


def movie(rng, i):
    title = rng.choice(PATTERNS).format(
        adj=rng.choice(ADJECTIVES), noun=rng.choice(NOUNS),
        place=rng.choice(PLACES), name=rng.choice(FIRST))
    if title.startswith("A ") and title[2] in "AEIOU":
        title = "An " + title[2:]
    role = rng.choice(ROLES)
    overview = "In %s, %s %s. %s" % (
        rng.choice(PLACES), role, rng.choice(EVENTS), rng.choice(ENDINGS))
    overview = overview[0].upper() + overview[1:]
    genres = rng.sample(GENRES, rng.choice([1, 1, 2, 2, 2, 3]))
    year = rng.randint(1950, 2025)
    # ratings cluster around 6.5, one decimal, some ties on purpose
    rating = round(min(9.9, max(1.0, rng.gauss(6.5, 1.4))), 1)
    director = "%s %s" % (rng.choice(FIRST), rng.choice(LAST))
    return {
        "id": i,
        "title": title,
        "overview": overview,
        "genres": genres,
        "year": year,
        "rating": rating,
        "director": director,
    }


def main():
    rng = random.Random(SEED)
    docs = [movie(rng, i) for i in range(1, COUNT + 1)]
    out = sys.stdout
    out.write("[\n")
    for n, d in enumerate(docs):
        out.write("  " + json.dumps(d, ensure_ascii=False, sort_keys=False))
        out.write(",\n" if n + 1 < len(docs) else "\n")
    out.write("]\n")


if __name__ == "__main__":
    main()
