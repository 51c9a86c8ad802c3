"""Rule-based spoken-style ("Oral") rewriting of motion captions.

"a person walks forward and then waves with their right hand" becomes, for example,
"Can you walk forward and after that wave with your right hand?" The rules: drop the
subject, put each clause's verb in its base form (lemminflect), turn third-person pronouns
into "your"/"yourself", vary connectives, swap a few safe synonyms, and wrap the result in a
spoken frame (imperative, request, "I want you to ..."). Every rule keeps the meaning: the
action words, sides, directions and counts of the caption survive (see `content_words`).
Frames have stable names so that a split can hold some out of training.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from lemminflect import getAllLemmas, getInflection, getLemma

from a2m_core.errors import InputError

# Spoken frames around the imperative verb phrase {vp}. Names are stable ids for splits.
FRAMES: dict[str, str] = {
    "imperative": "{vp}.",
    "can_you": "Can you {vp}?",
    "could_you_please": "Could you {vp}, please?",
    "i_want_you_to": "I want you to {vp}.",
    "please": "Please {vp}.",
    "id_like_you_to": "I'd like you to {vp}.",
    "go_ahead": "Go ahead and {vp}.",
    "would_you": "Would you {vp}?",
    "okay": "Okay, {vp}.",
    "now": "Now {vp}.",
    "let_me_see": "Let me see you {vp}.",
    "i_need_you_to": "Alright, I need you to {vp}.",
    "hey_okay": "Hey, {vp}, okay?",
    "try_to": "Try to {vp}.",
    "your_task": "Your task is to {vp}.",
    "so_um": "So, um, {vp}.",
}

_SUBJECT = re.compile(
    r"^(?:(?:a|an|the|this|that|one)\s+)?(?:person|man|woman|human|figure|guy|lady|boy|girl|child|kid|individual|"
    r"character|subject|someone|somebody|he|she|they|it|people|men)\b(?!')\s*(?:(?:is|are)\s+)?"
)
_CLAUSE_START = re.compile(r"(^|,\s*|\b(?:and|then|and then|or|but|before|while|after that|afterwards|so)\s+)")
_PRONOUNS = {"his": "your", "her": "your", "their": "your", "its": "your", "hers": "yours", "theirs": "yours",
             "himself": "yourself", "herself": "yourself", "themselves": "yourself", "themself": "yourself",
             "itself": "yourself", "he": "you", "she": "you", "they": "you", "him": "you", "them": "you"}
# Words that look like third-person verbs but name body parts or units in captions.
_NOT_VERBS = frozenset("arms hands feet knees shoulders hips elbows wrists fingers toes times legs sides".split())
_CONNECTIVES = ("and then", "then", "and after that", "and next", "and once that's done,")
# Two-way safe synonyms (same meaning in a motion instruction).
_SYNONYMS = {"raise": "lift", "lift": "raise", "rotate": "turn", "quickly": "fast", "rapidly": "quickly",
             "twice": "two times", "backward": "backwards", "backwards": "backward", "afterwards": "after that"}


@dataclass(frozen=True)
class Rewrite:
    """A spoken-style instruction and the name of the frame it used."""

    text: str
    frame: str


def clean_caption(caption: str) -> str:
    """Lower-case ASCII caption without end punctuation; InputError if nothing usable is left."""
    if not isinstance(caption, str) or not caption.strip():
        raise InputError(f"got an empty caption {caption!r}; expected a sentence such as 'a person walks forward'")
    text = unicodedata.normalize("NFKD", caption).replace("\u2019", "'").replace("\u2018", "'")
    text = text.encode("ascii", "ignore").decode()
    if not re.search(r"[a-zA-Z]", text):
        raise InputError(f"got caption {caption!r} with no English words; expected ASCII English text")
    return " ".join(text.lower().strip().rstrip(".!?;").split())


def _verb_form(word: str, tag: str) -> str:
    """A 3rd-person or -ing verb in form `tag` ("waves" -> "wave" for VB); other words unchanged."""
    if word in _NOT_VERBS or "VERB" not in getAllLemmas(word):
        return word
    lemma = getLemma(word, upos="VERB")[0]
    forms = {f for t in ("VBZ", "VBG") for f in getInflection(lemma, tag=t)}
    if word not in forms or word == lemma:
        return word
    return lemma if tag == "VB" else getInflection(lemma, tag=tag)[0]


def to_imperative(caption: str) -> str:
    """The caption as a second-person imperative: subject dropped, verbs in base form, "your"."""
    text = clean_caption(caption)
    text = _SUBJECT.sub("", text)
    words = text.split()
    out: list[str] = []
    clause_start = True
    for i, word in enumerate(words):
        bare = word.rstrip(",")
        if clause_start and bare in ("he", "she", "they"):
            continue  # "then he turns" -> "then turn"
        after_while = "while" in words[max(i - 2, 0) : i]  # "while he waves" -> "while waving"
        new = _verb_form(bare, "VBG" if after_while else "VB") if clause_start else bare
        if clause_start and new in ("is", "are"):  # "and is walking" -> "and walk"
            continue
        new = _PRONOUNS.get(new, new)
        out.append(new + ("," if word.endswith(",") else ""))
        adverb = clause_start and bare.endswith("ly") and "ADV" in getAllLemmas(bare)  # "slowly raises"
        clause_start = adverb or word.endswith(",") or bare in ("and", "then", "or", "but", "while", "so", "that",
                                                                "afterwards", "next")
    return " ".join(out)


def _vary(vp: str, rng: np.random.Generator) -> str:
    """Connective variety and lexical substitution, each applied at random."""
    vp = re.sub(r"\band then\b|, then\b", lambda m: " " + _CONNECTIVES[int(rng.integers(len(_CONNECTIVES)))],
                vp).replace("  ", " ")
    words = vp.split()
    for i, word in enumerate(words):
        bare = word.rstrip(",")
        if bare in _SYNONYMS and rng.random() < 0.3:
            words[i] = _SYNONYMS[bare] + word[len(bare):]
    return " ".join(words).replace(" ,", ",")


def rewrite(caption: str, num_rewrites: int, rng: np.random.Generator,
            frames: tuple[str, ...] | None = None, max_tries: int = 100) -> list[Rewrite]:
    """`num_rewrites` distinct spoken-style instructions for one caption, using only `frames`."""
    frames = tuple(FRAMES) if frames is None else frames
    unknown = set(frames) - set(FRAMES)
    if unknown or not frames:
        raise ValueError(f"unknown or no frames {sorted(unknown)}; known: {', '.join(FRAMES)}")
    vp = to_imperative(caption)
    if not vp:
        raise InputError(f"caption {caption!r} has no verb phrase after its subject; expected e.g. 'a person waves'")
    out: list[Rewrite] = []
    for _ in range(max_tries):
        frame = frames[int(rng.integers(len(frames)))]
        text = FRAMES[frame].format(vp=_vary(vp, rng))
        text = text[0].upper() + text[1:]
        if all(r.text != text for r in out):
            out.append(Rewrite(text, frame))
        if len(out) == num_rewrites:
            break
    return out


def content_words(text: str) -> list[str]:
    """The meaning-bearing words in order (verb and noun lemmas, sides, directions, counts), synonyms folded.

    Used to check that a rewrite kept the meaning of its caption.
    """
    fold = {"lift": "raise", "backwards": "backward", "fast": "quickly", "rapidly": "quickly",
            "rotate": "turn", "afterwards": "", "after": "", "next": "", "done": "", "once": "",
            "two": "twice"}
    skip = frozenset("a an the and then that that's it is are to you your yourself can could would please i want "
                     "like i'd go ahead mind let me see alright need hey okay try task so um now his her their he she "
                     "they himself herself themselves person man woman human someone with in on of times time".split())
    words = []
    for word in re.findall(r"[a-z']+", text.lower()):
        word = fold.get(word, word)
        if word and word not in skip:
            lemmas = getAllLemmas(word)
            keep = "ADJ" in lemmas or "ADV" in lemmas  # "left" is a side, not "leave"
            lemma = word if keep else (lemmas.get("VERB") or lemmas.get("NOUN") or (word,))[0]
            lemma = fold.get(lemma, lemma)
            if lemma and lemma not in skip:
                words.append(lemma)
    return words
