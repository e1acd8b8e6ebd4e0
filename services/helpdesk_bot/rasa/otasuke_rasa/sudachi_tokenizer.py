"""Japanese tokenizer for Rasa on SudachiPy with its core dictionary.

Rasa's WhitespaceTokenizer refuses ``language: ja`` (Japanese has no spaces).
Tokens keep their surface text; the lemma is Sudachi's normalised form, so
spelling variants (できる/出来る, ＵＴＭ/utm, 見なおし/見直し) share features in
CountVectorsFeaturizer (which featurises lemmas by default).

The text is NFKC-normalised before Sudachi sees it, so token text, lemma and reading are
full width (ｼﾝﾀﾞﾝ → シンダン) for every later component, while token offsets still point into
the original message (NFKC of half-width kana changes lengths; entities use the offsets).
A katakana word unknown to the dictionary (アリガトウ, コレダイジョウブ) is re-read in
hiragana and split into dictionary words when every piece is one, so its lemmas meet the
usual spelling.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message


# Half-width voiced/semi-voiced marks belong to the kana before them: ｶﾞ → ガ (2 chars → 1).
_HALF_WIDTH_MARKS = "\uff9e\uff9f"
_KANA_POS = {"助詞", "助動詞", "感動詞", "副詞", "代名詞", "接尾辞"}


def normalise(text: str) -> Tuple[str, List[int], List[int]]:
    """NFKC of ``text`` and, for each normalised character, the original span it came from."""
    out: List[str] = []
    starts: List[int] = []
    ends: List[int] = []
    i = 0
    while i < len(text):
        j = i + 1
        while j < len(text) and text[j] in _HALF_WIDTH_MARKS:
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j]) or text[i:j]
        out.append(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))
        i = j
    return "".join(out), starts, ends


def _is_katakana(text: str) -> bool:
    return len(text) >= 2 and all("\u30a1" <= ch <= "\u30fc" for ch in text)


def _to_hiragana(text: str) -> str:
    return "".join(chr(ord(ch) - 0x60) if "\u30a1" <= ch <= "\u30f6" else ch for ch in text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class SudachiTokenizer(Tokenizer):
    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return ["ja"]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sudachipy", "sudachidict_core"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # A = shortest units: more shared sub-words between short chat messages.
            "split_mode": "A",
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        from sudachipy import dictionary, tokenizer

        mode = getattr(tokenizer.Tokenizer.SplitMode, str(config.get("split_mode", "A")).upper())
        self._tokenizer = dictionary.Dictionary().create(mode)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SudachiTokenizer":
        return cls(config)

    def _morphemes(self, text: str) -> List[Tuple[str, int, int, str, List[str], str]]:
        """(surface, begin, end, lemma, part of speech, reading) in ``text``'s coordinates."""
        found = []
        for m in self._tokenizer.tokenize(text):
            surface = m.surface()
            pieces = self._hiragana_pieces(surface) if m.is_oov() and _is_katakana(surface) else None
            if pieces:
                found.extend((p[0], m.begin() + p[1], m.begin() + p[2], *p[3:]) for p in pieces)
                continue
            found.append((surface, m.begin(), m.end(), m.normalized_form(), m.part_of_speech(), m.reading_form()))
        return found

    def _hiragana_pieces(self, katakana: str):
        """The dictionary words of an unknown katakana word read as hiragana, or None."""
        pieces = []
        for m in self._tokenizer.tokenize(_to_hiragana(katakana)):
            pos = m.part_of_speech()
            # A short piece with no other written form (しん, だん of シンダン) is a guess, not a word:
            # keep the whole. Words usually written in kana (いいえ, どう, これ) are real pieces.
            guess = len(m.surface()) <= 2 and m.normalized_form() == m.surface() and pos[0] not in _KANA_POS
            if m.is_oov() or guess:
                return None
            pieces.append((katakana[m.begin() : m.end()], m.begin(), m.end(), m.normalized_form(), pos, m.reading_form()))
        return pieces if len(pieces) > 1 or (pieces and pieces[0][3] != katakana) else None

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        normalised, starts, ends = normalise(text)
        tokens: List[Token] = []
        for surface, begin, end, lemma, pos, reading in self._morphemes(normalised):
            if not surface.strip():
                continue
            lemma = lemma.lower()
            spoken = _to_hiragana(re.sub("ー+", "ー", surface.lower()))
            if pos[0] == "感動詞" and "ー" in surface and lemma != spoken.replace("ー", ""):
                # Sudachi turns the long vowel of some interjections into a vowel, which merges うーん
                # (hesitation, nonsense to us) with ううん (no): keep the spoken form there
                # (もしもーし → もしもし only drops it and stays merged).
                lemma = spoken
            if surface.isdigit():
                lemma = "0"  # numbers differ, their role does not
            # The part of speech lets IntentEnsemble tell content words from particles and punctuation;
            # the reading (katakana) lets it match kana spellings and IME slips (ごけんち, 誤検地 ~ 誤検知).
            data = {"pos": pos[0], "pos_detail": pos[1], "reading": reading}
            # Normalised text for the features, original offsets for entities.
            tokens.append(Token(surface, starts[begin], ends[end - 1], data=data, lemma=lemma))
        return self._apply_token_pattern(tokens)
