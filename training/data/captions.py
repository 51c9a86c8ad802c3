"""HumanML3D-style captions for action sequences, from a small grammar with synonyms.

A caption is "subject + verb phrase (+ connective + verb phrase)*", e.g. "a person walks
forward and then waves with their right hand." Verb phrases come from per-kind templates
whose first word is the verb in its base form; lemminflect inflects it (3rd person or
gerund). Captions are written in HumanML3D's texts/ format: one line per caption,
`caption#word/POS word/POS ...#start#end`, tokens lemmatised without punctuation, start and
end 0.0 for captions that cover the whole clip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from lemminflect import getInflection, getLemma

from a2m_core.files import write_text
from training.data.spec import ActionSpec

# Templates per kind. The first word is a verb (base form). Slots: {poss} possessive
# pronoun of the subject, {side} left/right, {hand}/{arm}/{leg}/{foot} "left hand" or
# "both hands", {dir} walking direction, {count} "twice"/"three times", {speed} an adverb
# or nothing, {turn} "to the left"/"to the right", {steps} "a few steps" etc.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "walk": ("walk {dir} {speed}", "walk {steps} {dir}", "take {steps} {dir} {speed}", "step {dir} {speed}",
             "stroll {dir}"),
    "walk_circle": ("walk in a circle {turn}", "walk around in a circle {turn}", "walk in a circle {speed}",
                    "circle around {turn}"),
    "run": ("run forward {speed}", "run {steps} forward", "jog forward {speed}", "sprint forward"),
    "jog_in_place": ("jog in place", "run in place", "jog on the spot", "jog in place for {steps}"),
    "turn": ("turn {turn}", "turn {poss} body {turn}", "rotate {turn}", "turn {side}"),
    "turn_around": ("turn around", "turn all the way around", "turn around {turn}", "rotate to face backward"),
    "jump_in_place": ("jump in place {count}", "jump up {count}", "hop up and down {count}",
                      "jump on the spot {count}"),
    "jump_forward": ("jump forward {count}", "leap forward {count}", "jump ahead {count}"),
    "squat": ("squat {count} {speed}", "squat down {count}", "do {nsquats}", "bend {poss} knees and squat {count}"),
    "sit_down": ("sit down", "sit down on a chair", "take a seat", "lower {reflexive} into a seat"),
    "stand_up": ("stand up", "get up from a seat", "rise from a chair", "stand up from sitting"),
    "kneel": ("kneel down and get back up", "kneel on one knee and stand up again", "kneel down briefly",
              "go down on one knee and then rise"),
    "wave": ("wave {poss} {hand} {count}", "wave with {poss} {hand}", "wave hello with {poss} {hand}",
             "raise {poss} {hand} and wave {count}"),
    "raise_arms": ("raise {poss} {arm}", "lift {poss} {arm} up", "raise {poss} {arm} above {poss} head",
                   "put {poss} {arm} up"),
    "clap": ("clap {poss} hands {count}", "clap {count}", "clap {poss} hands together {count}", "give a round of {nclaps}"),
    "punch": ("punch with {poss} {hand} {count}", "throw a punch with {poss} {hand} {count}",
              "punch forward with {poss} {hand} {count}", "jab {count} with {poss} {hand}"),
    "kick": ("kick with {poss} {leg} {count}", "kick forward with {poss} {leg} {count}",
             "kick {poss} {leg} out {count}", "kick the air with {poss} {leg} {count}"),
    "bow": ("bow", "bow forward", "take a bow", "bend forward at the waist and bow"),
    "side_step": ("step to the {side} {count}", "sidestep to the {side} {count}", "shuffle to the {side}",
                  "take a side step to the {side} {count}"),
    "march": ("march in place", "march on the spot", "march in place for {steps}", "march with high knees"),
    "stretch": ("stretch {poss} arms up", "stretch {poss} arms above {poss} head", "reach up and stretch",
                "stretch upward"),
    "spin": ("spin around {turn}", "spin in a full circle", "spin around once", "twirl around {turn}"),
    "hop": ("hop on {poss} {leg} {count}", "hop on one leg {count}", "hop on {poss} {foot} {count}",
            "jump on {poss} {leg} {count}"),
    "crouch_look_around": ("crouch and look around", "crouch down and look around", "squat low and look around",
                           "crouch and glance from side to side"),
    "nod": ("nod {poss} head {count}", "nod {count}", "nod in agreement {count}"),
    "shake_head": ("shake {poss} head {count}", "shake {poss} head no", "shake {poss} head from side to side"),
    "arm_circles": ("circle {poss} {arm} {count}", "make circles with {poss} {arm}", "swing {poss} {arm} in circles",
                    "rotate {poss} {arm} in circles {count}"),
    "lunge": ("lunge forward with {poss} {leg}", "do a lunge with {poss} {leg}", "step into a lunge with {poss} {leg}"),
    "stomp": ("stomp {poss} {foot} {count}", "stomp with {poss} {foot} {count}", "stamp {poss} {foot} {count}"),
    "reach_forward": ("reach forward with {poss} {hand}", "reach out with {poss} {arm}",
                      "extend {poss} {arm} forward", "stretch {poss} {arm} out in front"),
    "shrug": ("shrug {poss} shoulders {count}", "shrug {count}", "raise {poss} shoulders in a shrug"),
    "throw": ("throw something with {poss} {hand}", "throw a ball with {poss} {hand}",
              "make a throwing motion with {poss} {arm}", "throw overhand with {poss} {hand}"),
    "lean": ("lean to the {side}", "lean {poss} body to the {side}", "tilt {poss} upper body to the {side}",
             "bend sideways to the {side}"),
    "touch_toes": ("touch {poss} toes", "bend down and touch {poss} toes", "bend over to touch {poss} toes",
                   "reach down to {poss} toes"),
    "jumping_jacks": ("do {njacks}", "do jumping jacks", "perform {njacks}"),
    "stand_still": ("stand still", "stand in place", "stand and wait", "stay still"),
}

SUBJECTS: tuple[tuple[str, str, str], ...] = (
    # (subject, possessive, reflexive)
    ("a person", "their", "themselves"),
    ("a man", "his", "himself"),
    ("someone", "their", "themselves"),
    ("the person", "their", "themselves"),
    ("a woman", "her", "herself"),
    ("a human", "their", "themselves"),
    ("the man", "his", "himself"),
)

# Connectives before the 2nd/3rd verb phrase: (text, verb form of the following phrase).
CONNECTIVES: tuple[tuple[str, str], ...] = (
    ("and then", "VBZ"), (", then", "VBZ"), ("then", "VBZ"), ("and", "VBZ"), (", after that", "VBZ"),
    ("before", "VBG"), (", followed by", "VBG"), ("and afterwards", "VBZ"),
)

_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 8: "eight", 10: "ten"}
_TIMES = {1: "once", 2: "twice"}

# Part of speech of every word the grammar can produce (Universal POS, as HumanML3D's tokens).
_LEXICON_SPEC = {
    "DET": "a the both all one",
    "NUM": "two three four five six eight ten",
    "PRON": "their his her themselves himself herself someone something",
    "NOUN": "person man woman human hand hands arm arms leg legs foot feet body head knee knees toes shoulders "
            "chair seat circle circles step steps squat squats clap claps round punch air lunge ball motion "
            "jack jacks side spot agreement place waist time times hello bow way front",
    "ADJ": "left right full high upper few jumping throwing one low",
    "ADV": "forward backward forwards backwards then afterwards slowly quickly briefly once twice around "
           "again ahead sideways up down back upward overhand out together still no away",
    "ADP": "in on with to from into above of at for over before by after",
    "SCONJ": "that",
    "CCONJ": "and",
    "VERB": "walk walks walking stroll strolls strolling take takes taking step steps stepping run runs running "
            "jog jogs jogging sprint sprints sprinting circle circles circling turn turns turning rotate rotates "
            "rotating jump jumps jumping hop hops hopping leap leaps leaping squat squats squatting bend bends "
            "bending sit sits sitting lower lowers lowering stand stands standing get gets getting rise rises "
            "rising kneel kneels kneeling go goes going wave waves waving raise raises raising lift lifts lifting "
            "put puts putting clap claps clapping give gives giving punch punches punching throw throws throwing "
            "jab jabs jabbing kick kicks kicking bow bows bowing shuffle shuffles shuffling march marches "
            "marching stretch stretches stretching reach reaches reaching spin spins spinning twirl twirls "
            "twirling crouch crouches crouching look looks looking glance glances glancing nod nods nodding "
            "shake shakes shaking swing swings swinging make makes making do does doing stomp stomps stomping "
            "stamp stamps stamping extend extends extending shrug shrugs shrugging lean leans leaning tilt tilts "
            "tilting touch touches touching perform performs performing wait waits waiting stay stays staying "
            "face faces facing followed lunge lunges lunging sidestep sidesteps sidestepping",
}
LEXICON: dict[str, str] = {}
for _pos, _words in _LEXICON_SPEC.items():
    for _w in _words.split():
        LEXICON.setdefault(_w, _pos)
_VERBS = frozenset(_LEXICON_SPEC["VERB"].split())
_VERB_CUES = frozenset("and then by before that afterwards to".split())  # a verb phrase may follow these


@dataclass(frozen=True)
class Caption:
    """One caption line of a HumanML3D texts/ file."""

    text: str
    tokens: tuple[str, ...]  # "lemma/POS"
    start_s: float = 0.0
    end_s: float = 0.0

    def to_line(self) -> str:
        return f"{self.text}#{' '.join(self.tokens)}#{self.start_s}#{self.end_s}"

    @classmethod
    def from_line(cls, line: str) -> Caption:
        """Parse `caption#tokens#start#end` (HumanML3D writes nan for missing times)."""
        parts = line.rstrip("\n").split("#")
        if len(parts) != 4 or not parts[0].strip():
            raise ValueError(f"not a HumanML3D caption line (caption#tokens#start#end): {line!r}")
        start, end = (0.0 if p.strip().lower() in ("", "nan") else float(p) for p in parts[2:])
        return cls(parts[0].strip(), tuple(parts[1].split()), start, end)


def tag_tokens(text: str) -> tuple[str, ...]:
    """`lemma/POS` tokens of a grammar caption (punctuation dropped), as HumanML3D stores them.

    A word that can be a verb is tagged VERB where a verb phrase starts (after the subject, a
    comma, a connective or "to"); elsewhere it takes its lexicon tag ("a clap" is a NOUN).
    """
    tokens = []
    verb_slot = False
    for match in re.finditer(r"[a-z']+|,", text.lower()):
        word = match.group()
        if word == ",":
            verb_slot = True
            continue
        pos = "VERB" if verb_slot and word in _VERBS else LEXICON.get(word)
        if pos is None:
            raise KeyError(f"word {word!r} is not in the caption lexicon; add it to _LEXICON_SPEC")
        lemma = getLemma(word, upos=pos)[0] if pos in ("VERB", "NOUN") else word
        tokens.append(f"{lemma}/{pos}")
        verb_slot = pos in ("NOUN", "PRON") and len(tokens) <= 2 or word in _VERB_CUES
    return tuple(tokens)


def _count_phrase(n: int | None, rng: np.random.Generator) -> str:
    if n is None:
        return ""
    if n in _TIMES and rng.random() < 0.7:
        return _TIMES[n]
    return f"{_NUMBER_WORDS[n]} times" if n > 1 else "once"


def _slots(spec: ActionSpec, poss: str, reflexive: str, rng: np.random.Generator) -> dict[str, str]:
    side = spec.side or "right"
    both = side == "both"
    n = spec.count or 0
    return {
        "poss": poss,
        "reflexive": reflexive,
        "side": side,
        "hand": "both hands" if both else f"{side} hand",
        "arm": "both arms" if both else f"{side} arm",
        "leg": f"{side} leg",
        "foot": f"{side} foot",
        "dir": {"forward": "forward", "backward": "backward", "left": "to the left", "right": "to the right",
                None: "forward"}[spec.direction],
        "turn": f"to the {side}",
        "count": _count_phrase(spec.count, rng),
        "speed": {"slow": "slowly", "fast": "quickly", "normal": ""}[spec.speed],
        "steps": f"{_NUMBER_WORDS.get(n, 'a few')} steps" if n else "a few steps",
        "nsquats": f"{_NUMBER_WORDS[n]} squats" if n > 1 else "a squat",
        "nclaps": f"{_NUMBER_WORDS[n]} claps" if n > 1 else "one clap",
        "njacks": f"{_NUMBER_WORDS[n]} jumping jacks" if n > 1 else "a jumping jack",
    }


def _inflect(phrase: str, tag: str) -> str:
    """Inflect the leading verb, and the verb after each inner "and (then)", to `tag`."""
    words = phrase.split()
    for i, word in enumerate(words):
        after_and = i > 0 and (words[i - 1] == "and" or words[i - 2 : i] == ["and", "then"])
        if (i == 0 or after_and) and (i == 0 or word in _VERBS):
            form = getInflection(word, tag=tag)
            words[i] = form[0] if form else word
    return " ".join(words)


def verb_phrase(spec: ActionSpec, template_index: int, poss: str = "their", reflexive: str = "themselves",
                rng: np.random.Generator | None = None) -> str:
    """The base-form verb phrase of `spec` from template `template_index` (slots filled, spaces tidied)."""
    rng = rng or np.random.default_rng(0)
    text = TEMPLATES[spec.kind][template_index].format(**_slots(spec, poss, reflexive, rng))
    text = re.sub(r"\b(their|his|her) both\b", "both", text)  # "their both hands" -> "both hands"
    return " ".join(text.split())


def describe(specs: list[ActionSpec], rng: np.random.Generator) -> str:
    """One random caption of an action sequence, e.g. "a person walks forward and then waves."."""
    subject, poss, reflexive = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    parts = []
    for i, spec in enumerate(specs):
        base = verb_phrase(spec, int(rng.integers(len(TEMPLATES[spec.kind]))), poss, reflexive, rng)
        if i == 0:
            parts.append(_inflect(base, "VBZ"))
            continue
        connective, tag = CONNECTIVES[int(rng.integers(len(CONNECTIVES)))]
        if i < len(specs) - 1 and tag == "VBZ" and rng.random() < 0.5:
            connective = ","  # "walks, turns left and then waves"
        parts.append(f"{connective} {_inflect(base, tag)}")
    text = f"{subject} " + " ".join(parts)
    return re.sub(r" ,", ",", text) + "."


def plain_caption(specs: list[ActionSpec]) -> str:
    """A fixed wording of an action sequence, "a person walks forward and then waves with their right hand.":
    every kind's first template, so that two orders of the same actions differ in nothing but the order."""
    return "a person " + " and then ".join(_inflect(verb_phrase(spec, 0), "VBZ") for spec in specs) + "."


def order_pair(specs: tuple[ActionSpec, ...] | list[ActionSpec]) -> tuple[str, str] | None:
    """plain_caption of the actions in order and reversed; None where both read the same (one action,
    or a palindrome such as "jump, sit, jump")."""
    forward, backward = plain_caption(list(specs)), plain_caption(list(specs)[::-1])
    return (forward, backward) if forward != backward else None


def describe_many(specs: list[ActionSpec], num_captions: int, rng: np.random.Generator,
                  max_tries: int = 200) -> list[Caption]:
    """`num_captions` distinct captions of one sequence (fewer only if the grammar runs out)."""
    if num_captions < 1:
        raise ValueError(f"num_captions must be >= 1, got {num_captions}")
    texts: list[str] = []
    for _ in range(max_tries):
        text = describe(specs, rng)
        if text not in texts:
            texts.append(text)
        if len(texts) == num_captions:
            break
    return [Caption(t, tag_tokens(t)) for t in texts]


def write_texts(path, captions: list[Caption]) -> None:
    """Write a HumanML3D texts/ file (one caption line each), atomically."""
    write_text(path, "".join(c.to_line() + "\n" for c in captions))


def read_texts(path) -> list[Caption]:
    """Read a HumanML3D texts/ file; blank lines are skipped."""
    return [Caption.from_line(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

